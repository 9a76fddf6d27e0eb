import { z } from 'zod';
import { AuditKind } from '../audit/kinds';

export const DomainSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected a domain name in capitals, e.g. WHOLESALE_OFFER');
export const ConfidenceSchema = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

export interface HeimdallPolicy {
  domain: string;
  minConfidenceProd: number;
  minSandboxTrials: number;
  minSandboxSuccessRate: number;
  prodUseEnabled: boolean;
}

export interface Scorecard {
  domain: string;
  day: string;
  trials: number;
  successes: number;
  successRate: number;
  avgConfidence: number;
}

export const PROD_GATE_PASS = 'PROD_GATE_PASS';
export type ProdGateReason =
  | 'policy_missing'
  | 'confidence_below_min'
  | 'prod_use_disabled'
  | 'insufficient_sandbox_trials'
  | 'sandbox_success_rate_below_min'
  | 'sandbox_avg_confidence_below_min';

export type ProdGateDecision =
  { ok: true; reason: typeof PROD_GATE_PASS } | { ok: false; reason: ProdGateReason; detail: string };

/**
 * Seed 000 Lever 3, evaluate_prod_gate: the first failing check wins, in the
 * seed's order — the recommendation's confidence, the policy switch, then
 * today's sandbox scorecard (trials, success rate, average confidence).
 */
export function evaluateProdGate(
  policy: HeimdallPolicy | undefined,
  scorecard: Scorecard | undefined,
  confidence: number,
): ProdGateDecision {
  if (!policy) return { ok: false, reason: 'policy_missing', detail: 'no Heimdall policy for this domain' };
  if (confidence < policy.minConfidenceProd) {
    return {
      ok: false,
      reason: 'confidence_below_min',
      detail: `confidence ${confidence} < ${policy.minConfidenceProd}`,
    };
  }
  if (!policy.prodUseEnabled)
    return { ok: false, reason: 'prod_use_disabled', detail: `${policy.domain} prod use is disabled` };
  const trials = scorecard?.trials ?? 0;
  if (trials < policy.minSandboxTrials) {
    return {
      ok: false,
      reason: 'insufficient_sandbox_trials',
      detail: `${trials} sandbox trials today < ${policy.minSandboxTrials}`,
    };
  }
  const successRate = scorecard?.successRate ?? 0;
  if (successRate < policy.minSandboxSuccessRate) {
    return {
      ok: false,
      reason: 'sandbox_success_rate_below_min',
      detail: `success rate ${successRate.toFixed(3)} < ${policy.minSandboxSuccessRate}`,
    };
  }
  const avgConfidence = scorecard?.avgConfidence ?? 0;
  if (avgConfidence < policy.minConfidenceProd) {
    return {
      ok: false,
      reason: 'sandbox_avg_confidence_below_min',
      detail: `average confidence ${avgConfidence.toFixed(3)} < ${policy.minConfidenceProd}`,
    };
  }
  return { ok: true, reason: PROD_GATE_PASS };
}

export function toScorecard(row: {
  domain: string;
  day: string;
  trials: number;
  successes: number;
  confidence_sum: number;
}): Scorecard {
  return {
    domain: row.domain,
    day: row.day,
    trials: row.trials,
    successes: row.successes,
    successRate: row.trials === 0 ? 0 : row.successes / row.trials,
    avgConfidence: row.trials === 0 ? 0 : row.confidence_sum / row.trials,
  };
}

export type EligibilityDecision = (
  ProdGateDecision | { ok: false; reason: 'recommendation_missing' | 'domain_mismatch'; detail: string }
) & {
  recommendationId: string;
};

/**
 * assert_prod_eligible's first checks: the recommendation exists and is for
 * the domain asked about. Undefined: the gate decides, on the stored confidence.
 */
export function checkRecommendation(
  recommendationId: string,
  rec: { id: string; domain: string } | undefined,
  domain: string | undefined,
): EligibilityDecision | undefined {
  if (!rec)
    return {
      ok: false,
      reason: 'recommendation_missing',
      detail: `no recommendation ${recommendationId}`,
      recommendationId,
    };
  if (domain !== undefined && domain !== rec.domain)
    return {
      ok: false,
      reason: 'domain_mismatch',
      detail: `recommendation is for ${rec.domain}, not ${domain}`,
      recommendationId: rec.id,
    };
  return undefined;
}

/** The audit event an eligibility check owes, keyed by the deal's correlation id. */
export function eligibilityAudit(
  input: { recommendationId: string; actor: string; correlationId: string },
  decision: EligibilityDecision,
) {
  return {
    actor: input.actor,
    kind: decision.ok ? AuditKind.heimdall.prodEligible : AuditKind.heimdall.prodIneligible,
    subject: `recommendation:${input.recommendationId}`,
    details: { reason: decision.reason, correlationId: input.correlationId },
    idempotencyKey: `heimdall-assert:${input.correlationId}`,
  };
}
