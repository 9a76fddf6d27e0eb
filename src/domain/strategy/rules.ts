import { z } from 'zod';

/** Seed 001's maturity ladder. */
export const MATURITY_LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'] as const;
export const MaturityLevelSchema = z.enum(MATURITY_LEVELS);
export type MaturityLevel = z.infer<typeof MaturityLevelSchema>;
export const MATURITY_LABELS: Record<MaturityLevel, string> = {
  L0: 'Shadow',
  L1: 'Paper',
  L2: 'Gated',
  L3: 'Constrained',
  L4: 'Autonomous',
};
/** Sizing cap per level; L0 and L1 never reach the executor. */
export const SIZING_CAP: Record<MaturityLevel, number> = { L0: 0, L1: 0, L2: 0.1, L3: 0.25, L4: 1 };
const rank = (l: MaturityLevel) => MATURITY_LEVELS.indexOf(l);

export interface TradeStats {
  trades: number;
  winRate: number;
  /** Gross profit / gross loss; Infinity with no losses. */
  profitFactor: number;
  /** Peak-to-trough of cumulative P&L, as a fraction of the strategy's capital. */
  drawdown: number;
  /** Losses in a row, most recent first. */
  lossStreak: number;
}

export function tradeStats(pnlsOldestFirst: number[], capital: number): TradeStats {
  const wins = pnlsOldestFirst.filter((p) => p > 0);
  const losses = pnlsOldestFirst.filter((p) => p < 0);
  const grossLoss = -losses.reduce((a, b) => a + b, 0);
  let equity = 0;
  let peak = 0;
  let drawdown = 0;
  for (const p of pnlsOldestFirst) {
    equity += p;
    peak = Math.max(peak, equity);
    drawdown = Math.max(drawdown, capital > 0 ? (peak - equity) / capital : 0);
  }
  let lossStreak = 0;
  for (let i = pnlsOldestFirst.length - 1; i >= 0 && pnlsOldestFirst[i]! < 0; i--) lossStreak++;
  return {
    trades: pnlsOldestFirst.length,
    winRate: pnlsOldestFirst.length === 0 ? 0 : wins.length / pnlsOldestFirst.length,
    profitFactor:
      grossLoss === 0 ? (wins.length > 0 ? Number.POSITIVE_INFINITY : 0) : wins.reduce((a, b) => a + b, 0) / grossLoss,
    drawdown: Math.round(drawdown * 1e9) / 1e9,
    lossStreak,
  };
}

/** Slow: ≥ 50 trades, win rate > 0.45, profit factor > 1.1, and one level at a time. */
export function promotionCheck(
  level: MaturityLevel,
  s: TradeStats,
): { eligible: true; to: MaturityLevel } | { eligible: false; reasons: string[] } {
  const reasons = [
    ...(level === 'L4' ? ['already at L4'] : []),
    ...(s.trades < 50 ? [`${s.trades} trades (need 50)`] : []),
    ...(s.winRate <= 0.45 ? [`win rate ${s.winRate.toFixed(3)} (need > 0.45)`] : []),
    ...(s.profitFactor <= 1.1 ? [`profit factor ${s.profitFactor.toFixed(3)} (need > 1.1)`] : []),
  ];
  return reasons.length === 0
    ? { eligible: true, to: MATURITY_LEVELS[rank(level) + 1]! }
    : { eligible: false, reasons };
}

/**
 * Fast: a drawdown beyond 10 % drops straight to Paper (skipping levels); a
 * loss streak beyond 10 drops one level. Nothing below Paper.
 */
export function demotionFor(level: MaturityLevel, s: TradeStats): { to: MaturityLevel; reason: string } | undefined {
  if (rank(level) <= rank('L1')) return undefined;
  if (s.drawdown > 0.1) return { to: 'L1', reason: `drawdown ${(s.drawdown * 100).toFixed(1)}% > 10%` };
  if (s.lossStreak > 10) return { to: MATURITY_LEVELS[rank(level) - 1]!, reason: `loss streak ${s.lossStreak} > 10` };
  return undefined;
}

export interface Health {
  score: number;
  debt: number;
  credit: number;
  sizingMultiplier: number;
}

/**
 * Seed 001's epistemic debt/credit over the rolling window: a loss adds debt,
 * a win clears debt before it adds credit. The score falls with outstanding
 * debt; the sizing multiplier falls with it toward the floor.
 */
export function computeHealth(pnlsOldestFirst: number[], window = 20, floor = 0.25): Health {
  let debt = 0;
  let credit = 0;
  for (const p of pnlsOldestFirst.slice(-window)) {
    if (p < 0) debt += 1;
    else if (p > 0) {
      if (debt > 0) debt -= 1;
      else credit += 1;
    }
  }
  const score = Math.max(0, Math.min(1, 1 - debt / window));
  return { score, debt, credit, sizingMultiplier: floor + (1 - floor) * score };
}

export const IMPACT_TIERS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type ImpactTier = (typeof IMPACT_TIERS)[number];
/** The least maturity each tier needs; CRITICAL also needs a human. */
export const TIER_MIN_LEVEL: Record<ImpactTier, MaturityLevel> = {
  LOW: 'L2',
  MEDIUM: 'L2',
  HIGH: 'L3',
  CRITICAL: 'L4',
};

export const ImpactInputSchema = z.strictObject({
  irreversible: z.boolean().default(false),
  blastRadius: z.enum(['single', 'sector', 'market']).default('single'),
  /** This order's share of the strategy's book, 0–1. */
  concentration: z.number().min(0).max(1).default(0),
});
export type ImpactInput = z.input<typeof ImpactInputSchema>;

/** Four dimensions → points → tier: 0–1 LOW, 2–3 MEDIUM, 4–5 HIGH, 6+ CRITICAL. */
export function classifyImpact(raw: ImpactInput, notional: number): { tier: ImpactTier; points: number } {
  const i = ImpactInputSchema.parse(raw);
  const points =
    (i.irreversible ? 2 : 0) +
    { single: 0, sector: 1, market: 2 }[i.blastRadius] +
    (i.concentration >= 0.25 ? 2 : i.concentration >= 0.1 ? 1 : 0) +
    (notional >= 100_000 ? 2 : notional >= 10_000 ? 1 : 0);
  return { tier: points >= 6 ? 'CRITICAL' : points >= 4 ? 'HIGH' : points >= 2 ? 'MEDIUM' : 'LOW', points };
}

export interface ExecutionToken {
  id: string;
  strategyId: string;
  symbols: string[];
  maxNotional: number;
  actions: ('buy' | 'sell')[];
  expiresAt: string;
  revokedAt: string | null;
}

export type TokenCheck =
  | { ok: true }
  | {
      ok: false;
      reason:
        | 'token_missing'
        | 'token_expired'
        | 'token_revoked'
        | 'token_wrong_strategy'
        | 'token_symbol_out_of_scope'
        | 'token_notional_exceeded'
        | 'token_action_not_allowed';
    };

export function checkToken(
  token: ExecutionToken | undefined,
  order: { strategyId: string; symbol: string; notional: number; side: 'buy' | 'sell' },
  now: Date,
): TokenCheck {
  if (!token) return { ok: false, reason: 'token_missing' };
  if (token.revokedAt !== null) return { ok: false, reason: 'token_revoked' };
  if (now.getTime() >= Date.parse(token.expiresAt)) return { ok: false, reason: 'token_expired' };
  if (token.strategyId !== order.strategyId) return { ok: false, reason: 'token_wrong_strategy' };
  if (!token.symbols.includes('*') && !token.symbols.includes(order.symbol))
    return { ok: false, reason: 'token_symbol_out_of_scope' };
  if (order.notional > token.maxNotional) return { ok: false, reason: 'token_notional_exceeded' };
  if (!token.actions.includes(order.side)) return { ok: false, reason: 'token_action_not_allowed' };
  return { ok: true };
}

/** Seed 001's GovernanceAction, least to most restrictive. */
export const GOVERNANCE_ACTIONS = ['ALLOW', 'REDUCE_SIZE', 'BLOCK', 'DEMOTE', 'PAUSE', 'KILL'] as const;
export type GovernanceAction = (typeof GOVERNANCE_ACTIONS)[number];
export const mostRestrictive = (a: GovernanceAction, b: GovernanceAction): GovernanceAction =>
  GOVERNANCE_ACTIONS.indexOf(a) >= GOVERNANCE_ACTIONS.indexOf(b) ? a : b;

/** An order that can only shrink the position: opposite side, no larger than it. */
export function isReduceOnly(side: 'buy' | 'sell', position: number, notional: number): boolean {
  return (
    (side === 'sell' && position > 0 && notional <= position) ||
    (side === 'buy' && position < 0 && notional <= -position)
  );
}

export interface ComponentVerdict {
  component: 'maturity' | 'health' | 'impact' | 'drift' | 'canary' | 'token' | 'state';
  action: GovernanceAction;
  sizeMultiplier?: number;
  reason?: string;
}

export interface GateInputs {
  level: MaturityLevel;
  paused: boolean;
  health: Health;
  impact: { tier: ImpactTier; points: number };
  drift: 'OK' | 'REDUCE_SIZE' | 'PAUSE';
  canaryFailing: string[];
  token: TokenCheck | null;
  demotion: { to: MaturityLevel; reason: string } | undefined;
  reduceOnly: boolean;
}

export interface GateDecision {
  action: GovernanceAction;
  sizeMultiplier: number;
  execution: 'shadow' | 'paper' | 'approval' | 'live';
  verdicts: ComponentVerdict[];
  reasons: string[];
  reduceOnlyExit: boolean;
}

const DRIFT_REDUCTION = 0.5;

/** Every component votes; the most restrictive verdict wins, and size reductions multiply. */
export function decideStrategyGate(i: GateInputs): GateDecision {
  const verdicts: ComponentVerdict[] = [
    i.demotion
      ? { component: 'maturity', action: 'DEMOTE', reason: i.demotion.reason }
      : SIZING_CAP[i.level] < 1 && SIZING_CAP[i.level] > 0
        ? {
            component: 'maturity',
            action: 'REDUCE_SIZE',
            sizeMultiplier: SIZING_CAP[i.level],
            reason: `${i.level} caps size at ${SIZING_CAP[i.level] * 100}%`,
          }
        : { component: 'maturity', action: 'ALLOW' },
    i.paused
      ? { component: 'state', action: 'PAUSE', reason: 'strategy is paused' }
      : { component: 'state', action: 'ALLOW' },
    i.health.sizingMultiplier < 1
      ? {
          component: 'health',
          action: 'REDUCE_SIZE',
          sizeMultiplier: i.health.sizingMultiplier,
          reason: `health ${i.health.score.toFixed(2)}`,
        }
      : { component: 'health', action: 'ALLOW' },
    rank(TIER_MIN_LEVEL[i.impact.tier]) > rank(i.level) && rank(i.level) >= rank('L2')
      ? {
          component: 'impact',
          action: 'BLOCK',
          reason: `${i.impact.tier} impact needs ${TIER_MIN_LEVEL[i.impact.tier]}`,
        }
      : { component: 'impact', action: 'ALLOW' },
    i.drift === 'PAUSE'
      ? { component: 'drift', action: 'PAUSE', reason: 'drift beyond 50%' }
      : i.drift === 'REDUCE_SIZE'
        ? { component: 'drift', action: 'REDUCE_SIZE', sizeMultiplier: DRIFT_REDUCTION, reason: 'drift beyond 30%' }
        : { component: 'drift', action: 'ALLOW' },
    i.canaryFailing.length > 0
      ? { component: 'canary', action: 'KILL', reason: `canary failing: ${i.canaryFailing.join(', ')}` }
      : { component: 'canary', action: 'ALLOW' },
    i.token && !i.token.ok
      ? { component: 'token', action: 'BLOCK', reason: i.token.reason }
      : { component: 'token', action: 'ALLOW' },
  ];
  let action = verdicts.map((v) => v.action).reduce(mostRestrictive, 'ALLOW');
  const reasons = verdicts.filter((v) => v.action !== 'ALLOW').map((v) => `${v.component}: ${v.reason}`);
  // A halt must never trap a position: orders that only reduce it still go (not past a kill),
  // and never past the strategy's level: an L0 exit stays shadow, an L1 exit paper.
  const reduceOnlyExit = i.reduceOnly && (action === 'BLOCK' || action === 'DEMOTE' || action === 'PAUSE');
  if (reduceOnlyExit)
    return {
      action: 'ALLOW',
      sizeMultiplier: 1,
      execution: i.level === 'L0' ? 'shadow' : i.level === 'L1' ? 'paper' : 'live',
      verdicts,
      reasons: [...reasons, 'reduce-only exit allowed'],
      reduceOnlyExit,
    };
  if (i.reduceOnly && action === 'REDUCE_SIZE') action = 'ALLOW';
  const sizeMultiplier = action === 'REDUCE_SIZE' ? verdicts.reduce((m, v) => m * (v.sizeMultiplier ?? 1), 1) : 1;
  const execution =
    i.level === 'L0'
      ? 'shadow'
      : i.level === 'L1'
        ? 'paper'
        : i.level === 'L2' || i.impact.tier === 'CRITICAL'
          ? 'approval'
          : 'live';
  return { action, sizeMultiplier, execution, verdicts, reasons, reduceOnlyExit };
}
