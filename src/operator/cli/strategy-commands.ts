import { z } from 'zod';
import { safeText } from '../../domain/shared/validation';
import { ReasonSchema } from '../../domain/control-plane/types';
import type { Strategy } from '../../db/strategy.repository';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import { ErrorType } from '../../domain/shared/errors';
import { MATURITY_LABELS, MATURITY_LEVELS, MaturityLevelSchema } from '../../domain/strategy/rules';
import { STRATEGY_PROMOTION_WORKFLOW_TYPE } from '../../../workflows/names';
import {
  actorOf,
  bool,
  EXIT,
  expectArgs,
  field,
  type Invocation,
  printJsonOr,
  sub,
  table,
  UsageError,
  withData,
  withWarden,
} from './shared';

const StrategyIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id');

async function status({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('strategy status', args, 1);
  const id = field('id', StrategyIdSchema, args[0]);
  return withData(config, async (data) => {
    const report = await data.strategyReport(id);
    if (!report) throw new UsageError(`strategy ${id} has not opted in: warden strategy enable ${id}`);
    const { strategy: s, stats, health, promotion, demotion } = report;
    printJsonOr(flags, report, () => [
      `${s.id}: ${s.level} ${MATURITY_LABELS[s.level]}${s.paused ? ` — PAUSED (${s.pausedReason ?? 'no reason'})` : ''}${s.enabled ? '' : ' — gate disabled'}`,
      `evidence at this level: ${stats.trades} trades, win rate ${stats.winRate.toFixed(3)}, profit factor ${Number.isFinite(stats.profitFactor) ? stats.profitFactor.toFixed(2) : '∞'}, drawdown ${(stats.drawdown * 100).toFixed(1)}%, loss streak ${stats.lossStreak}`,
      `health ${health.score.toFixed(2)} (debt ${health.debt}, credit ${health.credit}) → sizing ×${health.sizingMultiplier.toFixed(2)}`,
      promotion.eligible ? `promotion to ${promotion.to}: eligible` : `promotion: ${promotion.reasons.join('; ')}`,
      demotion ? `demotion due: ${demotion.reason}` : 'no demotion due',
    ]);
    return EXIT.ok;
  });
}

/**
 * Every manual change other than the level goes through one upsert, audited with who and why. The level
 * is not the upsert's: `promote` proposes (an approved strategyPromotion moves it), `demote` lowers at once.
 */
function change(verb: string, apply: (s: Strategy, inv: Invocation) => Strategy, { needsExisting = true } = {}) {
  return async (inv: Invocation): Promise<number> => {
    expectArgs(`strategy ${verb}`, inv.args, 1);
    const id = field('id', StrategyIdSchema, inv.args[0]);
    const reason = field('--reason', ReasonSchema, inv.flags.reason ?? (verb === 'enable' ? 'opted in' : undefined));
    return withData(inv.config, async (data) => {
      const current = (await data.strategyReport(id))?.strategy;
      if (!current && needsExisting)
        throw new UsageError(`strategy ${id} has not opted in: warden strategy enable ${id}`);
      const next = apply(
        current ?? {
          id,
          enabled: true,
          level: 'L0',
          paused: false,
          pausedReason: null,
          capital: 10_000,
          tokenRequired: false,
          healthFloor: 0.25,
        },
        inv,
      );
      if (next.level !== (current?.level ?? 'L0'))
        throw new UsageError(
          current
            ? `--level: ${id} is at ${current.level}; raise it with \`warden strategy promote ${id} --role R\` (approved by someone else), lower it with \`warden strategy demote ${id}\``
            : `--level: a new strategy starts at L0; raise it with \`warden strategy promote ${id} --role R\` (approved by someone else)`,
        );
      await levelRefusalsAsUsage(() => data.upsertStrategy(next, actorOf(inv.flags), reason));
      printJsonOr(inv.flags, next, () => [
        `${id}: ${next.level} ${MATURITY_LABELS[next.level]}${next.paused ? ' (paused)' : ''}${next.enabled ? '' : ' (gate disabled)'}`,
      ]);
      return EXIT.ok;
    });
  };
}

/** A refused level change or proposal is the operator's to fix: a usage error naming the field. */
async function levelRefusalsAsUsage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (
      error instanceof Error &&
      (error.name === ErrorType.StrategyLevelChangeRefused || error.name === ErrorType.ProposalRefused)
    )
      throw new UsageError(error.message);
    throw error;
  }
}

const step = (level: Strategy['level'], by: number) =>
  MATURITY_LEVELS[Math.max(0, Math.min(4, MATURITY_LEVELS.indexOf(level) + by))]!;

/**
 * Proposes one level up: Warden records the promotion (the requester, in an approver role, may not
 * approve it) and starts its strategyPromotion workflow; the level moves only once someone else approves.
 */
async function promote({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('strategy promote', args, 1);
  const strategyId = field('id', StrategyIdSchema, args[0]);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const reason = field('--reason', ReasonSchema, flags.reason);
  const requestedBy = actorOf(flags);
  const { proposalId, terms } = await withData(config, (data) =>
    levelRefusalsAsUsage(() => data.proposePromotion({ strategyId, requestedBy, role, reason })),
  );
  await withWarden(config, (warden) =>
    warden.client.workflow.start(STRATEGY_PROMOTION_WORKFLOW_TYPE, {
      taskQueue: config.temporal.taskQueue,
      workflowId: proposalId,
      // Only the id matters: the workflow loads these terms from Warden's record.
      args: [{ strategyId, from: terms.from, to: terms.to, evidence: terms.evidence, approvers: {} }],
    }),
  );
  printJsonOr(flags, { proposalId, ...terms }, () => [
    `${strategyId}: promotion ${terms.from} → ${terms.to} proposed (${proposalId}); awaits approval by another approver: temporal workflow signal --workflow-id ${proposalId} --name approvePromotion`,
  ]);
  return EXIT.ok;
}

/** Lowers the level at once (tightening needs nobody's approval), audited; never raises it. */
async function demote({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('strategy demote', args, 1);
  const id = field('id', StrategyIdSchema, args[0]);
  const reason = field('--reason', ReasonSchema, flags.reason);
  return withData(config, async (data) => {
    const current = (await data.strategyReport(id))?.strategy;
    if (!current) throw new UsageError(`strategy ${id} has not opted in: warden strategy enable ${id}`);
    const to = flags.level ? field('--level', MaturityLevelSchema, flags.level) : step(current.level, -1);
    const next = await levelRefusalsAsUsage(() => data.demoteStrategy({ id, to, actor: actorOf(flags), reason }));
    printJsonOr(flags, next, () => [`${id}: ${next.level} ${MATURITY_LABELS[next.level]} (was ${current.level})`]);
    return EXIT.ok;
  });
}

async function tokensIssue({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('tokens issue', args, 0);
  const input = {
    strategyId: field('--strategy', StrategyIdSchema, flags.strategy),
    symbols: field('--symbols', safeText({ max: 2000 }), flags.symbols ?? '*')
      .split(',')
      .map((x) => x.trim()),
    maxNotional: field('--max-notional', z.coerce.number().positive('must be greater than 0'), flags['max-notional']),
    actions: field(
      '--actions',
      z.array(z.enum(['buy', 'sell'])).min(1, 'expected buy, sell or buy,sell'),
      (flags.actions ?? 'buy,sell').split(','),
    ),
    ttlSeconds: field(
      '--ttl',
      z.coerce
        .number()
        .int()
        .min(1)
        .max(30 * 86_400),
      flags.ttl ?? '3600',
    ),
    actor: actorOf(flags),
  };
  return withData(config, async (data) => {
    const token = await data.issueToken(input);
    printJsonOr(flags, token, () => [
      `token ${token.id} for ${token.strategyId}: ${token.symbols.join(',')} ≤ ${token.maxNotional}, ${token.actions.join('/')}, until ${token.expiresAt} (trace ${token.traceId})`,
    ]);
    return EXIT.ok;
  });
}

async function tokensRevoke({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('tokens revoke', args, 1);
  const target =
    args[0] !== undefined
      ? { tokenId: field('id', z.uuid('expected a token id'), args[0]) }
      : { strategyId: field('--strategy', StrategyIdSchema, flags.strategy) };
  return withData(config, async (data) => {
    const revoked = await data.revokeTokens(target, actorOf(flags));
    printJsonOr(flags, { revoked }, () => [`revoked ${revoked} token(s)`]);
    return EXIT.ok;
  });
}

async function tokensList({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('tokens list', args, 0);
  return withData(config, async (data) => {
    const tokens = await data.listTokens(flags.strategy);
    printJsonOr(flags, tokens, () =>
      table(
        ['id', 'strategy', 'symbols', 'max_notional', 'actions', 'expires', 'revoked'],
        tokens.map((t) => [
          t.id,
          t.strategyId,
          t.symbols.join(','),
          t.maxNotional,
          t.actions.join('/'),
          t.expiresAt,
          t.revokedAt,
        ]),
      ),
    );
    return EXIT.ok;
  });
}

export const strategyCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  strategy: sub('strategy', {
    status,
    enable: change(
      'enable',
      (s, { flags }) => ({
        ...s,
        enabled: true,
        ...(flags.level ? { level: field('--level', MaturityLevelSchema, flags.level) } : {}),
        ...(flags.capital ? { capital: field('--capital', z.coerce.number().positive(), flags.capital) } : {}),
        ...(flags['token-required'] ? { tokenRequired: bool('--token-required', flags['token-required']) } : {}),
        ...(flags['health-floor']
          ? { healthFloor: field('--health-floor', z.coerce.number().min(0).max(1), flags['health-floor']) }
          : {}),
      }),
      { needsExisting: false },
    ),
    disable: change('disable', (s) => ({ ...s, enabled: false })),
    promote,
    demote,
    pause: change('pause', (s, { flags }) => ({ ...s, paused: true, pausedReason: flags.reason ?? 'operator' })),
    resume: change('resume', (s) => ({ ...s, paused: false, pausedReason: null })),
  }),
  tokens: sub('tokens', { issue: tokensIssue, revoke: tokensRevoke, list: tokensList }),
};
