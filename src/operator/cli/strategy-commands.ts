import { z } from 'zod';
import { safeText } from '../../domain/shared/validation';
import { ReasonSchema } from '../../domain/control-plane/types';
import type { Strategy } from '../../db/strategy.repository';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import { MATURITY_LABELS, MATURITY_LEVELS, MaturityLevelSchema } from '../../domain/strategy/rules';
import { bool, EXIT, expectArgs, field, type Invocation, printJsonOr, sub, table, UsageError } from './shared';
import { printSubmitted } from './change-commands';

const StrategyIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id');

async function status({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('strategy status', args, 1);
  const id = field('id', StrategyIdSchema, args[0]);
  const report = await ops.call('strategy.report', { id });
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
    const current = (await inv.ops.call('strategy.report', { id }))?.strategy;
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
    if (verb === 'pause' || verb === 'resume') {
      // Pausing applies at once; lifting a pause is a change request someone else approves.
      return printSubmitted(inv.flags, await inv.ops.call('strategy.setPaused', { id, paused: next.paused, reason }));
    }
    // Settings are governed: a change request (disabling applies at once, enabling waits for approval).
    const { enabled, capital, tokenRequired, healthFloor } = next;
    const settings = { enabled, capital, tokenRequired, healthFloor };
    return printSubmitted(inv.flags, await inv.ops.call('strategy.set', { id, settings, reason }));
  };
}

const step = (level: Strategy['level'], by: number) =>
  MATURITY_LEVELS[Math.max(0, Math.min(4, MATURITY_LEVELS.indexOf(level) + by))]!;

/**
 * Proposes one level up: Warden records the promotion (the requester, in an approver role, may not
 * approve it) and starts its strategyPromotion workflow; the level moves only once someone else approves.
 */
async function promote({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('strategy promote', args, 1);
  const strategyId = field('id', StrategyIdSchema, args[0]);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const reason = field('--reason', ReasonSchema, flags.reason);
  const { proposalId, terms } = await ops.call('strategy.promote', { id: strategyId, role, reason });
  printJsonOr(flags, { proposalId, ...terms }, () => [
    `${strategyId}: promotion ${terms.from} → ${terms.to} proposed (${proposalId}); awaits approval by another approver: temporal workflow signal --workflow-id ${proposalId} --name approvePromotion`,
  ]);
  return EXIT.ok;
}

/** Lowers the level at once (tightening needs nobody's approval), audited; never raises it. */
async function demote({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('strategy demote', args, 1);
  const id = field('id', StrategyIdSchema, args[0]);
  const reason = field('--reason', ReasonSchema, flags.reason);
  const current = (await ops.call('strategy.report', { id }))?.strategy;
  if (!current) throw new UsageError(`strategy ${id} has not opted in: warden strategy enable ${id}`);
  const to = flags.level ? field('--level', MaturityLevelSchema, flags.level) : step(current.level, -1);
  const next = await ops.call('strategy.demote', { id, to, reason });
  printJsonOr(flags, next, () => [`${id}: ${next.level} ${MATURITY_LABELS[next.level]} (was ${current.level})`]);
  return EXIT.ok;
}

async function tokensIssue({ flags, args, ops }: Invocation): Promise<number> {
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
  };
  // Issuing loosens: the token works once its change request is approved, for --ttl from then.
  const issued = await ops.call('tokens.issue', input);
  return printSubmitted(flags, issued, () => [
    `token ${issued.tokenId} for ${input.strategyId}: ${input.symbols.join(',')} ≤ ${input.maxNotional}, ${input.actions.join('/')}, ${input.ttlSeconds}s once applied`,
  ]);
}

async function tokensRevoke({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tokens revoke', args, 1);
  const target =
    args[0] !== undefined
      ? { tokenId: field('id', z.uuid('expected a token id'), args[0]) }
      : { strategyId: field('--strategy', StrategyIdSchema, flags.strategy) };
  const { revoked } = await ops.call('tokens.revoke', target);
  printJsonOr(flags, { revoked }, () => [`revoked ${revoked} token(s)`]);
  return EXIT.ok;
}

async function tokensList({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tokens list', args, 0);
  const tokens = await ops.call('tokens.list', flags.strategy ? { strategyId: flags.strategy } : {});
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
