import { describe, expect, it } from 'vitest';
import {
  checkToken,
  classifyImpact,
  computeHealth,
  decideStrategyGate,
  demotionFor,
  type ExecutionToken,
  type GateInputs,
  GOVERNANCE_ACTIONS,
  isReduceOnly,
  mostRestrictive,
  promotionCheck,
  tradeStats,
} from '../../../src/domain/strategy/rules';

const stats = (over: Partial<ReturnType<typeof tradeStats>> = {}) => ({
  trades: 50,
  winRate: 0.46,
  profitFactor: 1.11,
  drawdown: 0,
  lossStreak: 0,
  ...over,
});

describe('maturity ladder (seed 001)', () => {
  it('promotes one level at exactly 50 trades, win rate > 0.45, profit factor > 1.1 — not just below', () => {
    expect(promotionCheck('L2', stats())).toEqual({ eligible: true, to: 'L3' });
    expect(promotionCheck('L2', stats({ trades: 49 }))).toEqual({ eligible: false, reasons: ['49 trades (need 50)'] });
    expect(promotionCheck('L2', stats({ winRate: 0.45 }))).toMatchObject({
      eligible: false,
      reasons: ['win rate 0.450 (need > 0.45)'],
    });
    expect(promotionCheck('L2', stats({ profitFactor: 1.1 }))).toMatchObject({
      eligible: false,
      reasons: ['profit factor 1.100 (need > 1.1)'],
    });
    expect(promotionCheck('L4', stats())).toMatchObject({ eligible: false, reasons: ['already at L4'] });
  });

  it('demotes at once: drawdown beyond 10% to Paper, a loss streak beyond 10 one level', () => {
    expect(demotionFor('L4', stats({ drawdown: 0.1 }))).toBeUndefined();
    expect(demotionFor('L4', stats({ drawdown: 0.1001 }))).toMatchObject({ to: 'L1' });
    expect(demotionFor('L4', stats({ lossStreak: 10 }))).toBeUndefined();
    expect(demotionFor('L4', stats({ lossStreak: 11 }))).toMatchObject({ to: 'L3', reason: 'loss streak 11 > 10' });
    expect(demotionFor('L1', stats({ drawdown: 0.5 }))).toBeUndefined();
  });

  it('computes the evidence from P&L', () => {
    expect(tradeStats([10, -5, 20, -5, -5], 100)).toEqual({
      trades: 5,
      winRate: 0.4,
      profitFactor: 2,
      drawdown: 0.1,
      lossStreak: 2,
    });
    expect(tradeStats([], 100)).toMatchObject({ trades: 0, winRate: 0, profitFactor: 0 });
  });
});

describe('health tracker: debt and credit', () => {
  it('losses add debt, wins clear debt before adding credit; sizing falls toward the floor', () => {
    expect(computeHealth([])).toEqual({ score: 1, debt: 0, credit: 0, sizingMultiplier: 1 });
    expect(computeHealth([1, 1, -1])).toMatchObject({ debt: 1, credit: 2 });
    expect(computeHealth([-1, -1, 1])).toMatchObject({ debt: 1, credit: 0, score: 0.95 });
    const sick = computeHealth(Array(20).fill(-1), 20, 0.25);
    expect(sick).toEqual({ score: 0, debt: 20, credit: 0, sizingMultiplier: 0.25 });
    expect(computeHealth(Array(10).fill(-1), 20, 0.25).sizingMultiplier).toBeCloseTo(0.625);
  });
});

describe('impact classifier', () => {
  it('tiers by points over four dimensions', () => {
    expect(classifyImpact({}, 500)).toEqual({ tier: 'LOW', points: 0 });
    expect(classifyImpact({ blastRadius: 'sector' }, 20_000)).toEqual({ tier: 'MEDIUM', points: 2 });
    expect(classifyImpact({ irreversible: true, concentration: 0.1 }, 20_000)).toEqual({ tier: 'HIGH', points: 4 });
    expect(classifyImpact({ irreversible: true, blastRadius: 'market', concentration: 0.3 }, 500)).toEqual({
      tier: 'CRITICAL',
      points: 6,
    });
  });
});

describe('scoped execution tokens', () => {
  const now = new Date('2026-11-24T12:00:00Z');
  const token: ExecutionToken = {
    id: 't1',
    strategyId: 'mr-1',
    symbols: ['BTCUSDT'],
    maxNotional: 1000,
    actions: ['buy'],
    expiresAt: '2026-11-24T13:00:00Z',
    revokedAt: null,
  };
  const order = { strategyId: 'mr-1', symbol: 'BTCUSDT', notional: 500, side: 'buy' as const };
  it.each([
    ['valid', token, order, { ok: true }],
    ['missing', undefined, order, { ok: false, reason: 'token_missing' }],
    ['expired', { ...token, expiresAt: '2026-11-24T12:00:00Z' }, order, { ok: false, reason: 'token_expired' }],
    ['revoked', { ...token, revokedAt: '2026-11-24T11:00:00Z' }, order, { ok: false, reason: 'token_revoked' }],
    ['another strategy', token, { ...order, strategyId: 'other' }, { ok: false, reason: 'token_wrong_strategy' }],
    ['symbol out of scope', token, { ...order, symbol: 'ETHUSDT' }, { ok: false, reason: 'token_symbol_out_of_scope' }],
    ['over its notional', token, { ...order, notional: 1000.01 }, { ok: false, reason: 'token_notional_exceeded' }],
    [
      'action not allowed',
      token,
      { ...order, side: 'sell' as const },
      { ok: false, reason: 'token_action_not_allowed' },
    ],
  ] as const)('%s', (_name, t, o, expected) => {
    expect(checkToken(t as ExecutionToken | undefined, o, now)).toEqual(expected);
  });
});

describe('the merge: most restrictive wins', () => {
  it('every pair gives the more restrictive, in either order', () => {
    for (const [i, a] of GOVERNANCE_ACTIONS.entries()) {
      for (const [j, b] of GOVERNANCE_ACTIONS.entries()) {
        expect(mostRestrictive(a, b)).toBe(GOVERNANCE_ACTIONS[Math.max(i, j)]);
      }
    }
  });

  it('property: any list folds to its most restrictive member, whatever the order', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run = 0; run < 500; run++) {
      const list = Array.from(
        { length: 1 + Math.floor(random() * 6) },
        () => GOVERNANCE_ACTIONS[Math.floor(random() * GOVERNANCE_ACTIONS.length)]!,
      );
      const expected = GOVERNANCE_ACTIONS[Math.max(...list.map((a) => GOVERNANCE_ACTIONS.indexOf(a)))];
      expect(list.reduce(mostRestrictive, 'ALLOW')).toBe(expected);
      expect([...list].reverse().reduce(mostRestrictive, 'ALLOW')).toBe(expected);
    }
  });
});

describe('the gate', () => {
  const healthy = { score: 1, debt: 0, credit: 5, sizingMultiplier: 1 };
  const inputs = (over: Partial<GateInputs> = {}): GateInputs => ({
    level: 'L4',
    paused: false,
    health: healthy,
    impact: { tier: 'LOW', points: 0 },
    drift: 'OK',
    canaryFailing: [],
    token: null,
    demotion: undefined,
    reduceOnly: false,
    ...over,
  });

  it('allows a healthy L4 order in full and caps L3 at 25%', () => {
    expect(decideStrategyGate(inputs())).toMatchObject({ action: 'ALLOW', sizeMultiplier: 1, execution: 'live' });
    expect(decideStrategyGate(inputs({ level: 'L3' }))).toMatchObject({
      action: 'REDUCE_SIZE',
      sizeMultiplier: 0.25,
      execution: 'live',
    });
    expect(decideStrategyGate(inputs({ level: 'L2' }))).toMatchObject({
      action: 'REDUCE_SIZE',
      sizeMultiplier: 0.1,
      execution: 'approval',
    });
    expect(decideStrategyGate(inputs({ level: 'L1' }))).toMatchObject({ execution: 'paper' });
    expect(decideStrategyGate(inputs({ level: 'L0' }))).toMatchObject({ execution: 'shadow' });
  });

  it('multiplies reductions and lets the worst verdict win', () => {
    const d = decideStrategyGate(
      inputs({ level: 'L3', drift: 'REDUCE_SIZE', health: { ...healthy, sizingMultiplier: 0.8 } }),
    );
    expect(d.action).toBe('REDUCE_SIZE');
    expect(d.sizeMultiplier).toBeCloseTo(0.25 * 0.5 * 0.8);
    expect(decideStrategyGate(inputs({ drift: 'PAUSE', canaryFailing: ['exchange'] })).action).toBe('KILL');
    expect(decideStrategyGate(inputs({ level: 'L2', impact: { tier: 'HIGH', points: 4 } })).action).toBe('BLOCK');
    expect(decideStrategyGate(inputs({ impact: { tier: 'CRITICAL', points: 6 } }))).toMatchObject({
      action: 'ALLOW',
      execution: 'approval',
    });
    expect(decideStrategyGate(inputs({ token: { ok: false, reason: 'token_expired' } }))).toMatchObject({
      action: 'BLOCK',
      reasons: ['token: token_expired'],
    });
  });

  it('reduce-only: a halted strategy may still close, never grow or flip', () => {
    expect(isReduceOnly('sell', 100, 100)).toBe(true);
    expect(isReduceOnly('sell', 100, 101)).toBe(false); // would flip short
    expect(isReduceOnly('buy', 100, 10)).toBe(false); // grows
    expect(isReduceOnly('buy', -50, 20)).toBe(true);
    expect(decideStrategyGate(inputs({ paused: true, reduceOnly: true }))).toMatchObject({
      action: 'ALLOW',
      reduceOnlyExit: true,
      sizeMultiplier: 1,
    });
    expect(decideStrategyGate(inputs({ paused: true, reduceOnly: false })).action).toBe('PAUSE');
    expect(decideStrategyGate(inputs({ canaryFailing: ['db'], reduceOnly: true })).action).toBe('KILL');
  });
});
