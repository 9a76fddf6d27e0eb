import { z } from 'zod';
import { ReasonSchema } from '../../domain/control-plane/types';
import type { Strategy } from '../../db/strategy.repository';
import { MATURITY_LABELS, MATURITY_LEVELS, MaturityLevelSchema } from '../../domain/strategy/rules';
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

/** Every manual change goes through one upsert, audited with who and why. */
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
      await data.upsertStrategy(next, actorOf(inv.flags), reason);
      printJsonOr(inv.flags, next, () => [
        `${id}: ${next.level} ${MATURITY_LABELS[next.level]}${next.paused ? ' (paused)' : ''}${next.enabled ? '' : ' (gate disabled)'}`,
      ]);
      return EXIT.ok;
    });
  };
}

const step = (level: Strategy['level'], by: number) =>
  MATURITY_LEVELS[Math.max(0, Math.min(4, MATURITY_LEVELS.indexOf(level) + by))]!;

async function tokensIssue({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('tokens issue', args, 0);
  const input = {
    strategyId: field('--strategy', StrategyIdSchema, flags.strategy),
    symbols: field('--symbols', z.string().min(1), flags.symbols ?? '*')
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
    promote: change('promote', (s) => ({ ...s, level: step(s.level, 1) })),
    demote: change('demote', (s, { flags }) => ({
      ...s,
      level: flags.level ? field('--level', MaturityLevelSchema, flags.level) : step(s.level, -1),
    })),
    pause: change('pause', (s, { flags }) => ({ ...s, paused: true, pausedReason: flags.reason ?? 'operator' })),
    resume: change('resume', (s) => ({ ...s, paused: false, pausedReason: null })),
  }),
  tokens: sub('tokens', { issue: tokensIssue, revoke: tokensRevoke, list: tokensList }),
};
