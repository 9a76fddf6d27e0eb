import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { listTokens, revokeTokens } from '../../db/execution-tokens.repository';
import { demoteStrategy, getStrategy, strategyReport } from '../../db/strategy.repository';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import { ExecutionTokenTermsSchema } from '../../domain/change-requests/operational-changes';
import { ReasonSchema } from '../../domain/control-plane/types';
import { MaturityLevelSchema } from '../../domain/strategy/rules';
import { notFound } from '../api/http';
import { proposeStrategyPromotion } from '../api/routes/autonomy';
import { operation } from './operation';
import { submitChanges } from './submit-changes';

const StrategyIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id');

/**
 * Seed 001's strategy gate: opt-in and settings, promotion (proposed) and demotion (at once), execution tokens.
 * Lifting a pause and issuing a token loosen: change requests (invariant 8); pausing and revoking apply now.
 */
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
      'Pause a strategy (applies now) or lift its pause (a change request: someone else approves); its settings are strategy.set.',
    input: z.strictObject({ id: StrategyIdSchema, paused: z.boolean(), reason: ReasonSchema }),
    run: async (deps, identity, { id, paused, reason }) => {
      if (!(await getStrategy(deps.db, id)))
        throw notFound(`strategy ${id} has not opted in: warden strategy enable ${id}`);
      const after = { paused, reason: paused ? reason : null };
      return submitChanges(deps, identity, [{ kind: 'strategy_pause', target: id, after }], reason);
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
    summary:
      'Propose a scoped execution token for a strategy (a change request: others approve); its id is known now, it works once applied.',
    input: ExecutionTokenTermsSchema,
    run: async (deps, identity, terms) => {
      // The id is chosen here so the issuer can hand it on; the token exists only once its request applies.
      const tokenId = randomUUID();
      const what = `token for ${terms.strategyId}: ${terms.actions.join('/')} ≤ ${terms.maxNotional}`;
      const submitted = await submitChanges(
        deps,
        identity,
        [{ kind: 'execution_token', target: tokenId, after: terms }],
        what,
      );
      return { tokenId, ...submitted };
    },
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
