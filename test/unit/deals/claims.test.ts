import { describe, expect, it } from 'vitest';
import { claimAllowsExecution, decideClaim, releaseCounts, type StoredClaim } from '../../../src/domain/deals/claims';
import { sweepActionFor, type DealHolding } from '../../../src/domain/deals/orphans';
import type { DealTerms } from '../../../src/domain/deals/types';

const terms: DealTerms = {
  engine: 'WHOLESALE',
  symbol: 'BTCUSDT',
  amount: 100,
  executionClass: 'PROD_EXEC',
  strategyId: null,
  side: 'buy',
};
const claim = (over: Partial<StoredClaim> = {}): StoredClaim => ({
  dealId: 'd1',
  terms,
  workflowId: 'deal-d1',
  runId: 'run-1',
  stage: 'claimed',
  result: null,
  permitId: null,
  applyMode: null,
  ...over,
});
const request = (over: Partial<{ workflowId: string; runId: string; terms: DealTerms }> = {}) => ({
  dealId: 'd1',
  terms,
  workflowId: 'deal-d1',
  runId: 'run-1',
  ...over,
});
const executed = {
  status: 'executed',
  dealId: 'd1',
  applyMode: 'live',
  permitId: 'p',
  realizedLoss: 0,
  externalId: null,
} as const;

describe('decideClaim', () => {
  it('claims a fresh id, and grants the same run again (a retry)', () => {
    expect(decideClaim(undefined, request(), false)).toEqual({ outcome: 'claimed', write: 'insert' });
    expect(decideClaim(claim({ stage: 'executing' }), request(), false)).toEqual({ outcome: 'claimed', write: 'none' });
  });

  it('refuses an id used before claims existed', () => {
    expect(decideClaim(undefined, request(), true)).toMatchObject({ outcome: 'denied', reason: 'deal_id_reused' });
  });

  it('answers another workflow with the first result, denies other terms, and a deal in flight', () => {
    const other = request({ workflowId: 'raw-2', runId: 'run-9' });
    expect(decideClaim(claim({ stage: 'done', result: executed }), other, false)).toMatchObject({
      outcome: 'result',
      result: executed,
    });
    expect(decideClaim(claim(), { ...other, terms: { ...terms, amount: 101 } }, false)).toMatchObject({
      outcome: 'denied',
      reason: 'deal_id_reused',
    });
    expect(decideClaim(claim(), other, false)).toMatchObject({ outcome: 'denied', reason: 'deal_in_progress' });
  });

  it('lets a reset run take over only while nothing executed; past the permit it reconciles', () => {
    const reset = request({ runId: 'run-2' });
    expect(decideClaim(claim(), reset, false)).toEqual({ outcome: 'claimed', write: 'take_over' });
    expect(decideClaim(claim({ stage: 'executing', permitId: 'p', applyMode: 'live' }), reset, false)).toMatchObject({
      outcome: 'needs_reconciliation',
      permitId: 'p',
      applyMode: 'live',
      write: 'take_over',
    });
    expect(decideClaim(claim({ stage: 'done', result: executed }), reset, false)).toMatchObject({ outcome: 'result' });
  });
});

describe('claimAllowsExecution', () => {
  it('lets the claiming workflow use its permit once; another run after that may not', () => {
    expect(claimAllowsExecution(claim(), { workflowId: 'deal-d1', runId: 'run-2' })).toEqual({
      ok: true,
      advance: true,
    });
    expect(claimAllowsExecution(claim({ stage: 'executing' }), { workflowId: 'deal-d1', runId: 'run-1' })).toEqual({
      ok: true,
      advance: false,
    });
    expect(
      claimAllowsExecution(claim({ stage: 'executing' }), { workflowId: 'deal-d1', runId: 'run-2' }),
    ).toMatchObject({
      ok: false,
      ambiguous: true,
    });
    expect(claimAllowsExecution(claim(), { workflowId: 'raw-2', runId: 'run-9' })).toMatchObject({ ok: false });
  });
});

describe('sweepActionFor', () => {
  const holding = (over: Partial<DealHolding> = {}): DealHolding => ({
    dealId: 'd1',
    workflowId: 'deal-d1',
    stage: 'claimed',
    reservation: { key: 'deal:d1', engine: 'WHOLESALE', amount: 100, status: 'reserved' },
    permits: [{ id: 'p', status: 'issued' }],
    ...over,
  });
  it('never touches a running deal, releases a closed one that never used its permit, flags one that did', () => {
    expect(sweepActionFor(holding(), 'running')).toBe('keep');
    expect(sweepActionFor(holding(), 'closed')).toBe('release');
    expect(sweepActionFor(holding({ stage: 'executing', permits: [{ id: 'p', status: 'consumed' }] }), 'closed')).toBe(
      'flag',
    );
    expect(sweepActionFor(holding({ workflowId: null, stage: null }), 'not_found')).toBe('keep');
    expect(sweepActionFor(holding({ reservation: null, permits: [] }), 'closed')).toBe('keep');
  });
});

describe('releaseCounts', () => {
  const release = (target: string, status: string) => ({ status, changes: [{ kind: 'deal_release', target }] });
  it('counts only under an applied deal_release request for this deal', () => {
    expect(releaseCounts('d1', 'cr-1', release('d1', 'applied'))).toEqual({ counted: true });
  });
  it('refuses no request, an unknown one, one for another deal or kind, and one not applied, naming it', () => {
    expect(releaseCounts('d1', undefined, undefined)).toMatchObject({
      counted: false,
      problem: /^changeRequestId: releasing deal d1 needs/,
    });
    expect(releaseCounts('d1', 'cr-x', undefined)).toEqual({
      counted: false,
      problem: 'changeRequestId: no change request cr-x',
    });
    expect(releaseCounts('d1', 'cr-2', release('d2', 'applied'))).toMatchObject({
      counted: false,
      problem: /does not release deal d1/,
    });
    expect(
      releaseCounts('d1', 'cr-3', { status: 'applied', changes: [{ kind: 'position', target: 'd1' }] }),
    ).toMatchObject({ counted: false });
    for (const status of ['pending', 'approved', 'rejected', 'expired', 'stale'])
      expect(releaseCounts('d1', 'cr-4', release('d1', status))).toMatchObject({
        counted: false,
        problem: new RegExp(`is ${status}, not applied`),
      });
  });
});
