import { z } from 'zod';
import { issueToken, listTokens, revokeTokens } from '../../db/execution-tokens.repository';
import { demoteStrategy, getStrategy, strategyReport, upsertStrategy } from '../../db/strategy.repository';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import { ReasonSchema } from '../../domain/control-plane/types';
import { SymbolSchema } from '../../domain/permits/rules';
import { MaturityLevelSchema } from '../../domain/strategy/rules';
import { notFound } from '../api/http';
import { proposeStrategyPromotion } from '../api/routes/autonomy';
import { operation } from './operation';

const StrategyIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id');

/** Seed 001's strategy gate: opt-in and settings, promotion (proposed) and demotion (at once), execution tokens. */
export const strategyOperations = {
  'strategy.report': operation({
    permission: 'read',
    summary: "A strategy's level, evidence, health, and promotion or demotion due; null when it has not opted in.",
    input: z.strictObject({ id: StrategyIdSchema }),
    run: async (deps, _identity, { id }) => (await strategyReport(deps.db, id)) ?? null,
  }),
  'strategy.setPaused': operation({
    permission: 'policy:set',
    summary:
      "Pause a strategy or lift its pause (the gate's own state, as a tripwire's restriction is); its settings are a change request (strategy.set).",
    input: z.strictObject({ id: StrategyIdSchema, paused: z.boolean(), reason: ReasonSchema }),
    run: async (deps, identity, { id, paused, reason }) => {
      const current = await getStrategy(deps.db, id);
      if (!current) throw notFound(`strategy ${id} has not opted in: warden strategy enable ${id}`);
      const next = { ...current, paused, pausedReason: paused ? reason : null };
      return upsertStrategy(deps.db, next, identity.name, reason);
    },
  }),
  'strategy.demote': operation({
    // Tightening: open to every write role.
    permission: 'engine:restrict',
    summary: "Lower a strategy's level at once (never raises it).",
    input: z.strictObject({ id: StrategyIdSchema, to: MaturityLevelSchema, reason: ReasonSchema }),
    run: (deps, identity, { id, to, reason }) => demoteStrategy(deps.db, { id, to, actor: identity.name, reason }),
  }),
  'strategy.promote': operation({
    permission: 'proposal:decide',
    summary: 'Propose raising a strategy one level; the level moves once someone else approves.',
    input: z.strictObject({ id: StrategyIdSchema, role: ApproverRoleSchema, reason: ReasonSchema }),
    run: (deps, identity, { id, role, reason }) => proposeStrategyPromotion(deps, identity, id, { role, reason }),
  }),
  'tokens.issue': operation({
    permission: 'policy:set',
    summary: 'Issue a scoped execution token for a strategy.',
    input: z.strictObject({
      strategyId: StrategyIdSchema,
      symbols: z.array(z.union([z.literal('*'), SymbolSchema])).min(1),
      maxNotional: z.number().positive('must be greater than 0').finite(),
      actions: z.array(z.enum(['buy', 'sell'])).min(1, 'expected buy, sell or buy,sell'),
      ttlSeconds: z
        .number()
        .int()
        .min(1)
        .max(30 * 86_400),
    }),
    run: (deps, identity, input) => issueToken(deps.db, { ...input, actor: identity.name }),
  }),
  'tokens.revoke': operation({
    // Tightening: open to every write role.
    permission: 'engine:restrict',
    summary: "Revoke one execution token, or all of a strategy's.",
    input: z.union([
      z.strictObject({ tokenId: z.uuid('expected a token id') }),
      z.strictObject({ strategyId: StrategyIdSchema }),
    ]),
    run: async (deps, identity, target) => ({ revoked: await revokeTokens(deps.db, target, identity.name) }),
  }),
  'tokens.list': operation({
    permission: 'read',
    summary: 'Execution tokens, of one strategy or all.',
    input: z.strictObject({ strategyId: StrategyIdSchema.optional() }),
    run: (deps, _identity, { strategyId }) => listTokens(deps.db, strategyId),
  }),
};
