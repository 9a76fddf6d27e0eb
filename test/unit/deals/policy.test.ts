import { describe, expect, it } from 'vitest';
import {
  type AdmissionRequest,
  decideAdmission,
  defaultExecutionPolicy,
  effectiveApplyMode,
  stricterClass,
} from '../../../src/domain/deals/policy';
import { positionAfter, positionKeyOf } from '../../../src/domain/deals/positions';
import { decideStrategyGate, type GateInputs } from '../../../src/domain/strategy/rules';

const request = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  policy: defaultExecutionPolicy('WHOLESALE'),
  requestedClass: 'PROD_EXEC',
  strategyId: undefined,
  strategy: undefined,
  recommendationId: undefined,
  executorTaskQueue: 'producer',
  ownTaskQueue: 'warden',
  executorServed: false,
  ...over,
});

describe('execution policy rules', () => {
  it('takes the stricter class: a producer may tighten, never loosen', () => {
    expect(stricterClass('SANDBOX_EXEC', 'PROD_EXEC')).toBe('SANDBOX_EXEC');
    expect(stricterClass('PROD_EXEC', 'OBSERVE_ONLY')).toBe('OBSERVE_ONLY');
    expect(stricterClass('OBSERVE_ONLY', 'PROD_EXEC')).toBe('OBSERVE_ONLY');
    const sandbox = { ...defaultExecutionPolicy('LAB'), executionClass: 'SANDBOX_EXEC' as const };
    expect(decideAdmission(request({ policy: sandbox, requestedClass: 'PROD_EXEC' }))).toMatchObject({
      admitted: true,
      executionClass: 'SANDBOX_EXEC',
    });
  });

  it('caps the apply mode: OBSERVE_ONLY never executes, SANDBOX_EXEC never goes live', () => {
    expect(effectiveApplyMode('OBSERVE_ONLY', 'live')).toBe('dry_run');
    expect(effectiveApplyMode('SANDBOX_EXEC', 'live')).toBe('testnet');
    expect(effectiveApplyMode('SANDBOX_EXEC', 'testnet')).toBe('testnet');
    expect(effectiveApplyMode('SANDBOX_EXEC', 'dry_run')).toBe('dry_run');
    expect(effectiveApplyMode('PROD_EXEC', 'live')).toBe('live');
  });

  it('denies a deal missing the strategy or recommendation its engine requires', () => {
    const strict = { ...defaultExecutionPolicy('WHOLESALE'), strategyRequired: true, recommendationRequired: true };
    expect(decideAdmission(request({ policy: strict }))).toMatchObject({
      admitted: false,
      reason: 'strategy_required',
    });
    // Naming a strategy Warden does not know (or has disabled) is no way round it.
    expect(decideAdmission(request({ policy: strict, strategyId: 'made-up' }))).toMatchObject({
      admitted: false,
      reason: 'strategy_required',
    });
    expect(decideAdmission(request({ policy: strict, strategyId: 's1', strategy: { enabled: true } }))).toMatchObject({
      admitted: false,
      reason: 'recommendation_required',
    });
    expect(
      decideAdmission(
        request({ policy: strict, strategyId: 's1', strategy: { enabled: true }, recommendationId: 'r' }),
      ),
    ).toMatchObject({ admitted: true });
  });

  it('denies no_executor when nothing serves the deal, except for observation', () => {
    const own = { executorTaskQueue: undefined, executorServed: false };
    expect(decideAdmission(request(own))).toMatchObject({ admitted: false, reason: 'no_executor' });
    expect(decideAdmission(request({ ...own, executorTaskQueue: 'warden' }))).toMatchObject({ reason: 'no_executor' });
    expect(decideAdmission(request({ ...own, executorServed: true }))).toMatchObject({ admitted: true });
    expect(decideAdmission(request({ ...own, requestedClass: 'OBSERVE_ONLY' }))).toMatchObject({ admitted: true });
  });

  it('keeps positions per strategy, or per engine without one, in whole cents', () => {
    expect(positionKeyOf({ engine: 'WHOLESALE', symbol: 'BTC', strategyId: 's1' })).toEqual({
      scope: 'strategy',
      scopeId: 's1',
      symbol: 'BTC',
    });
    expect(positionKeyOf({ engine: 'WHOLESALE', symbol: 'BTC' })).toEqual({
      scope: 'engine',
      scopeId: 'WHOLESALE',
      symbol: 'BTC',
    });
    expect(positionAfter(0.1, 'buy', 0.2)).toBe(0.3);
    expect(positionAfter(100, 'sell', 150.5)).toBe(-50.5);
  });
});

describe('the reduce-only exemption never lifts a strategy past its level', () => {
  const inputs = (over: Partial<GateInputs>): GateInputs => ({
    level: 'L3',
    paused: true,
    health: { score: 1, debt: 0, credit: 0, sizingMultiplier: 1 },
    impact: { tier: 'LOW', points: 0 },
    drift: 'OK',
    canaryFailing: [],
    token: null,
    demotion: undefined,
    reduceOnly: true,
    ...over,
  });
  it('an L0 exit stays shadow, an L1 exit paper; L2 and up exit live', () => {
    expect(decideStrategyGate(inputs({ level: 'L0' }))).toMatchObject({ reduceOnlyExit: true, execution: 'shadow' });
    expect(decideStrategyGate(inputs({ level: 'L1' }))).toMatchObject({ reduceOnlyExit: true, execution: 'paper' });
    expect(decideStrategyGate(inputs({ level: 'L2' }))).toMatchObject({ reduceOnlyExit: true, execution: 'live' });
  });
});
