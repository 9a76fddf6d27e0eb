import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertProdEligible, createRecommendation, evaluateDomainGate, listScorecards, recordSandboxTrial, setHeimdallPolicy } from '../../src/db/heimdall.repository';
import { evaluateProdGate, type HeimdallPolicy } from '../../src/domain/prod-eligibility/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

const WHOLESALE_OFFER: HeimdallPolicy = { domain: 'WHOLESALE_OFFER', minConfidenceProd: 0.92, minSandboxTrials: 75, minSandboxSuccessRate: 0.82, prodUseEnabled: false };

describe('evaluateProdGate (pure)', () => {
  const card = (trials: number, successes: number, avgConfidence: number) => ({ domain: 'WHOLESALE_OFFER', day: '2026-11-24', trials, successes, successRate: successes / trials, avgConfidence });

  it('fails on the first check in the seed order', () => {
    expect(evaluateProdGate(undefined, undefined, 0.99)).toMatchObject({ ok: false, reason: 'policy_missing' });
    expect(evaluateProdGate(WHOLESALE_OFFER, card(100, 100, 0.99), 0.91)).toMatchObject({ ok: false, reason: 'confidence_below_min' });
    expect(evaluateProdGate(WHOLESALE_OFFER, card(100, 100, 0.99), 0.94)).toMatchObject({ ok: false, reason: 'prod_use_disabled' });
    const on = { ...WHOLESALE_OFFER, prodUseEnabled: true };
    expect(evaluateProdGate(on, undefined, 0.94)).toMatchObject({ ok: false, reason: 'insufficient_sandbox_trials' });
    expect(evaluateProdGate(on, card(74, 74, 0.99), 0.94)).toMatchObject({ ok: false, reason: 'insufficient_sandbox_trials' });
    expect(evaluateProdGate(on, card(100, 81, 0.99), 0.94)).toMatchObject({ ok: false, reason: 'sandbox_success_rate_below_min' });
    expect(evaluateProdGate(on, card(100, 82, 0.919), 0.94)).toMatchObject({ ok: false, reason: 'sandbox_avg_confidence_below_min' });
    expect(evaluateProdGate(on, card(75, 62, 0.92), 0.92)).toEqual({ ok: true, reason: 'PROD_GATE_PASS' });
  });
});

describe('Heimdall gate on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('seeds the four domains with the seed thresholds, prod use off', async () => {
    const cards = await listScorecards(t.db, '2026-11-24');
    expect(cards.map((c) => c.policy)).toEqual([
      { domain: 'BUYER_MATCH', minConfidenceProd: 0.9, minSandboxTrials: 50, minSandboxSuccessRate: 0.8, prodUseEnabled: false },
      { domain: 'CAPITAL_ROUTE', minConfidenceProd: 0.95, minSandboxTrials: 100, minSandboxSuccessRate: 0.85, prodUseEnabled: false },
      { domain: 'FOLLOWUP_NEXT_ACTION', minConfidenceProd: 0.9, minSandboxTrials: 60, minSandboxSuccessRate: 0.8, prodUseEnabled: false },
      WHOLESALE_OFFER,
    ]);
  });

  it('walks through seed 000 evaluate_prod_gate: disabled first, then passing on today\'s scorecard', async () => {
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toMatchObject({ ok: false, reason: 'prod_use_disabled' });
    const blocked = await createRecommendation(t.db, { domain: 'WHOLESALE_OFFER', confidence: 0.94, actor: 'heimdall' });
    expect(blocked).toMatchObject({ prodEligible: false, gateReason: 'prod_use_disabled' });

    await setHeimdallPolicy(t.db, { ...WHOLESALE_OFFER, prodUseEnabled: true }, 'alice');
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toMatchObject({ ok: false, reason: 'insufficient_sandbox_trials' });
    // 80 trials today, 70 successes (87.5%), average confidence 0.93.
    for (let i = 0; i < 80; i++) {
      await recordSandboxTrial(t.db, { domain: 'WHOLESALE_OFFER', success: i < 70, confidence: 0.93, key: `trial-${i}` });
    }
    const card = await recordSandboxTrial(t.db, { domain: 'WHOLESALE_OFFER', success: true, confidence: 0.93, key: 'trial-0' });
    expect(card).toMatchObject({ trials: 80, successes: 70, successRate: 0.875 });
    expect(card.avgConfidence).toBeCloseTo(0.93, 10);
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toEqual({ ok: true, reason: 'PROD_GATE_PASS' });

    const eligible = await createRecommendation(t.db, { domain: 'WHOLESALE_OFFER', confidence: 0.94, actor: 'heimdall', payload: { offer: 'A-17' } });
    expect(eligible).toMatchObject({ prodEligible: true, gateReason: 'PROD_GATE_PASS' });
    expect(await assertProdEligible(t.db, { recommendationId: eligible.id, actor: 'deal-1', correlationId: 'deal:1' })).toMatchObject({ ok: true });
    // Switched off after creation: assert re-evaluates and refuses.
    await setHeimdallPolicy(t.db, WHOLESALE_OFFER, 'alice');
    expect(await assertProdEligible(t.db, { recommendationId: eligible.id, actor: 'deal-2', correlationId: 'deal:2' })).toMatchObject({ ok: false, reason: 'prod_use_disabled' });
    expect(await assertProdEligible(t.db, { recommendationId: eligible.id, domain: 'BUYER_MATCH', actor: 'x', correlationId: 'deal:3' })).toMatchObject({ ok: false, reason: 'domain_mismatch' });
    expect(await assertProdEligible(t.db, { recommendationId: '00000000-0000-4000-8000-000000000000', actor: 'x', correlationId: 'deal:4' })).toMatchObject({ ok: false, reason: 'recommendation_missing' });
  });
});
