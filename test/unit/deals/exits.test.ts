import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enforceControlPlane, engagedMode, tradingStateOf } from '../../../src/domain/control-plane/rules';
import { INITIAL_CONTROL_PLANE_STATE } from '../../../src/domain/control-plane/types';
import { judgeExit } from '../../../src/domain/deals/exits';
import { checkPolicy, EMPTY_LEDGER, type RiskPolicy } from '../../../src/domain/risk/rules';

const cents = fc.integer({ min: -1_000_000, max: 1_000_000 }).map((c) => c / 100);

describe('judgeExit (issue 17)', () => {
  it('passes a sell of at most the free part of a long, a buy of at most the free part of a short', () => {
    expect(judgeExit({ position: 100, held: 0, side: 'sell', amount: 50 })).toEqual({ reduces: true });
    expect(judgeExit({ position: 100, held: 0, side: 'sell', amount: 100 })).toEqual({ reduces: true });
    expect(judgeExit({ position: -80, held: 30, side: 'buy', amount: 50 })).toEqual({ reduces: true });
    expect(judgeExit({ position: 100, held: 60, side: 'sell', amount: 50 })).toMatchObject({ reduces: false });
    expect(judgeExit({ position: 100, held: 0, side: 'buy', amount: 1 })).toMatchObject({ reduces: false });
    expect(judgeExit({ position: 0, held: 0, side: 'sell', amount: 1 })).toMatchObject({ reduces: false });
  });

  it('never lets an exit flip the sign or grow the position, whatever the numbers', () => {
    fc.assert(
      fc.property(cents, cents.map(Math.abs), fc.constantFrom('buy', 'sell'), cents.map(Math.abs), (p, h, side, a) => {
        const amount = Math.max(0.01, a);
        const held = Math.min(h, Math.abs(p));
        if (!judgeExit({ position: p, held, side: side as 'buy' | 'sell', amount }).reduces) return;
        const after = Math.round(p * 100) + (side === 'buy' ? 1 : -1) * Math.round(amount * 100);
        const afterAll = after + (side === 'buy' ? 1 : -1) * Math.round(held * 100);
        // Strictly smaller in size, never across zero, even with every other held exit executed too.
        expect(Math.abs(after)).toBeLessThan(Math.abs(Math.round(p * 100)));
        expect(Math.sign(afterAll) === 0 || Math.sign(afterAll) === Math.sign(p)).toBe(true);
      }),
    );
  });
});

describe('trading states on the control plane (issue 17)', () => {
  const engaged = (mode: 'halt' | 'reduce' | undefined) => ({
    ...INITIAL_CONTROL_PLANE_STATE,
    goLiveEnabled: true,
    killSwitchEngaged: true,
    ...(mode ? { killSwitchMode: mode } : {}),
  });

  it('reads a switch engaged before modes as halted', () => {
    expect(tradingStateOf(INITIAL_CONTROL_PLANE_STATE)).toBe('active');
    expect(tradingStateOf(engaged(undefined))).toBe('halted');
    expect(tradingStateOf(engaged('reduce'))).toBe('reducing');
  });

  it('never loosens by an engage: reduce on a halt stays halt, halt on a reduce halts', () => {
    expect(engagedMode(engaged('halt'), 'reduce')).toBe('halt');
    expect(engagedMode(engaged(undefined), 'reduce')).toBe('halt');
    expect(engagedMode(engaged('reduce'), 'halt')).toBe('halt');
    expect(engagedMode(engaged('reduce'), undefined)).toBe('halt');
    expect(engagedMode(INITIAL_CONTROL_PLANE_STATE, 'reduce')).toBe('reduce');
  });

  it('in reduce mode lets production through only what reduces, and sandbox work always', () => {
    const state = engaged('reduce');
    expect(enforceControlPlane('PROD_EXEC', state, { reduces: true })).toMatchObject({ allowed: true });
    expect(enforceControlPlane('PROD_EXEC', state, { reduces: false, detail: 'adds' })).toMatchObject({
      allowed: false,
      reason: 'reducing_only',
      detail: expect.stringContaining('adds'),
    });
    expect(enforceControlPlane('PROD_EXEC', state)).toMatchObject({ allowed: false, reason: 'reducing_only' });
    expect(enforceControlPlane('SANDBOX_EXEC', state)).toMatchObject({ allowed: true });
    expect(enforceControlPlane('PROD_EXEC', engaged('halt'), { reduces: true })).toMatchObject({
      allowed: false,
      reason: 'kill_switch_engaged',
    });
  });
});

describe('caps and exits (issue 17)', () => {
  const policy: RiskPolicy = {
    engine: 'WHOLESALE',
    maxDailyLoss: 200,
    maxDailyExposure: 1000,
    maxOpenRisk: 500,
    maxActionsPerDay: null,
    enabled: true,
  };
  const full = { ...EMPTY_LEDGER, exposureUsed: 1000, realizedLoss: 200 };

  it('an exit takes no daily exposure headroom, and passes a reached loss cap only where the engine allows it', () => {
    expect(checkPolicy(policy, { ...full, realizedLoss: 0 }, 10)).toMatchObject({ reason: 'daily_exposure_exceeded' });
    expect(checkPolicy(policy, { ...full, realizedLoss: 0 }, 10, { exit: true })).toEqual({ ok: true });
    expect(checkPolicy(policy, full, 10, { exit: true })).toMatchObject({ reason: 'daily_loss_limit_reached' });
    expect(checkPolicy({ ...policy, exitsIgnoreLossCap: true }, full, 10, { exit: true })).toEqual({ ok: true });
    expect(checkPolicy({ ...policy, exitsIgnoreLossCap: true }, full, 10)).toMatchObject({
      reason: 'daily_exposure_exceeded',
    });
    // Open risk still counts for an exit.
    expect(checkPolicy(policy, { ...EMPTY_LEDGER, openRiskReserved: 495 }, 10, { exit: true })).toMatchObject({
      reason: 'open_risk_exceeded',
    });
  });
});
