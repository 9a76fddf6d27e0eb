import { describe, expect, it } from 'vitest';
import { nextCanaryState } from '../../../src/domain/watchdogs/canary';
import { evaluateDrift } from '../../../src/domain/strategy/drift';
import { evaluateRegression, type KpiSample, rateFromEvents } from '../../../src/domain/watchdogs/tripwire';

const flags = (successes: number, total: number): KpiSample[] =>
  Array.from({ length: total }, (_, i) => ({ success: i < successes, value: null }));
const values = (...vs: number[]): KpiSample[] => vs.map((value) => ({ success: null, value }));
const policy = { windowEvents: 50, baselineEvents: 200, maxDropFraction: 0.2 };

describe('regression tripwire arithmetic (seed 000)', () => {
  it('seed walk-through: baseline 95%, current 75% → drop ≈ 21% ≥ 20% → triggered', () => {
    // 75% of a 50-event window is not a whole count; the seed's rates on 100 + 200 events.
    const result = evaluateRegression({ ...policy, windowEvents: 100 }, [...flags(75, 100), ...flags(190, 200)]);
    expect(result).toMatchObject({
      decision: 'triggered',
      baseline: 0.95,
      current: 0.75,
      windowCount: 100,
      baselineCount: 200,
    });
    if (result.decision === 'insufficient_data') throw new Error('expected a decision');
    expect(result.dropFraction).toBeCloseTo(0.2105, 4);
  });

  it('triggers exactly at the threshold and not just below', () => {
    // baseline 1.0: a current of 0.80 is a drop of exactly 20%, 0.82 is 18%.
    expect(evaluateRegression(policy, [...flags(40, 50), ...flags(200, 200)])).toMatchObject({
      decision: 'triggered',
      dropFraction: 0.2,
    });
    expect(evaluateRegression(policy, [...flags(41, 50), ...flags(200, 200)])).toMatchObject({
      decision: 'ok',
      dropFraction: 0.18,
    });
  });

  it('averages valued metrics', () => {
    expect(rateFromEvents(values(1, 2, 3, 6))).toBe(3);
    const small = { windowEvents: 2, baselineEvents: 3, maxDropFraction: 0.3 };
    // newest first: recent 7,7 (avg 7) vs baseline 10,10,10 → drop 30%.
    expect(evaluateRegression(small, values(7, 7, 10, 10, 10))).toMatchObject({
      decision: 'triggered',
      current: 7,
      baseline: 10,
      dropFraction: 0.3,
    });
    expect(evaluateRegression(small, values(7.1, 7, 10, 10, 10))).toMatchObject({ decision: 'ok' });
  });

  it('decides nothing on too few events or a zero baseline', () => {
    expect(evaluateRegression(policy, flags(40, 249))).toMatchObject({
      decision: 'insufficient_data',
      windowCount: 50,
      baselineCount: 199,
    });
    expect(evaluateRegression(policy, [])).toMatchObject({ decision: 'insufficient_data', windowCount: 0 });
    expect(evaluateRegression(policy, [...flags(0, 50), ...flags(0, 200)])).toMatchObject({
      decision: 'insufficient_data',
      detail: 'no measurable baseline',
    });
  });
});

describe('drift detector (seed 001)', () => {
  it('REDUCE_SIZE beyond 30%, PAUSE beyond 50%, exact thresholds stay below', () => {
    expect(evaluateDrift(1, 0.7)).toEqual({ deviation: 0.3, action: 'OK' });
    expect(evaluateDrift(1, 0.69)).toEqual({ deviation: 0.31, action: 'REDUCE_SIZE' });
    expect(evaluateDrift(2, 3)).toEqual({ deviation: 0.5, action: 'REDUCE_SIZE' });
    expect(evaluateDrift(2, 3.02)).toEqual({ deviation: 0.51, action: 'PAUSE' });
    expect(evaluateDrift(-1, -1.2)).toEqual({ deviation: 0.2, action: 'OK' });
    expect(evaluateDrift(1, 1.4, { reduceSize: 0.1, pause: 0.3 })).toMatchObject({ action: 'PAUSE' });
  });
});

describe('canary counts', () => {
  const fail = (name: string) => ({ name, ok: false, error: 'refused', durationMs: 1 });
  const pass = (name: string) => ({ name, ok: true, durationMs: 1 });

  it('trips a check once, at the threshold, and notices recovery', () => {
    let state = nextCanaryState({}, [fail('exchange'), pass('postgres')], 3);
    expect(state).toEqual({ consecutiveFailures: { exchange: 1, postgres: 0 }, tripped: [], recovered: [] });
    state = nextCanaryState(state.consecutiveFailures, [fail('exchange'), pass('postgres')], 3);
    expect(state.tripped).toEqual([]);
    state = nextCanaryState(state.consecutiveFailures, [fail('exchange'), pass('postgres')], 3);
    expect(state).toMatchObject({ consecutiveFailures: { exchange: 3 }, tripped: ['exchange'] });
    state = nextCanaryState(state.consecutiveFailures, [fail('exchange'), pass('postgres')], 3);
    expect(state).toMatchObject({ consecutiveFailures: { exchange: 4 }, tripped: [] });
    state = nextCanaryState(state.consecutiveFailures, [pass('exchange'), pass('postgres')], 3);
    expect(state).toEqual({ consecutiveFailures: { exchange: 0, postgres: 0 }, tripped: [], recovered: ['exchange'] });
  });
});
