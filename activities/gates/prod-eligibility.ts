// Seed 000's assert_prod_eligible: read the recommendation, policy and
// today's scorecard → decide (src/domain/prod-eligibility) → audit.
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database';
import { recordAuditEvent } from '../../src/db/audit.repository';
import { evaluateDomainGate, findRecommendation } from '../../src/db/heimdall.repository';
import {
  checkRecommendation,
  type EligibilityDecision,
  eligibilityAudit,
} from '../../src/domain/prod-eligibility/rules';

/**
 * Just before execution: re-evaluates the gate now, so a policy switched off
 * or a scorecard gone bad since creation still stops it.
 */
export async function assertProdEligible(
  db: Kysely<Database>,
  input: { recommendationId: string; domain?: string; actor: string; correlationId: string },
): Promise<EligibilityDecision> {
  const decision = await decideProdEligibility(db, input);
  await recordAuditEvent(db, eligibilityAudit(input, decision));
  return decision;
}

/** The decision alone, read through `db` (admitDeal's transaction, or the pool); the caller audits it. */
export async function decideProdEligibility(
  db: Kysely<Database>,
  input: { recommendationId: string; domain?: string },
): Promise<EligibilityDecision> {
  const rec = await findRecommendation(db, input.recommendationId);
  return (
    checkRecommendation(input.recommendationId, rec, input.domain) ?? {
      ...(await evaluateDomainGate(db, rec!.domain, rec!.confidence)),
      recommendationId: rec!.id,
    }
  );
}
