// Deal claims (issue 13): lock the deal id → decide (src/domain/deals/claims)
// → write the claim and audit, one transaction.
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database';
import { appendAuditEvent } from '../../src/db/audit.repository';
import { readChangeRequest } from '../../src/db/change-requests.repository';
import {
  dealIdUsed,
  findClaim,
  insertClaim,
  insertFirstClaim,
  lockDealId,
  setClaimRun,
} from '../../src/db/deal-claims.repository';
import { AuditKind } from '../../src/domain/audit/kinds';
import type { DealActivities, ReconciliationAudit } from '../../src/domain/deals/activities';
import { type ClaimOutcome, type ClaimRequest, decideClaim, releaseCounts } from '../../src/domain/deals/claims';

/**
 * Claims a deal id once, with its terms. Serialised per deal id, so two
 * workflows racing for one id cannot both claim it; a retry by the same run
 * is granted again. A second workflow answered with the first one's result
 * is audited (once per run), so the log says who asked again. A deal id never seen is claimed in one
 * statement (what decideClaim grants it); anything else is decided under the lock.
 */
export async function claimDeal(
  db: Kysely<Database>,
  request: ClaimRequest & { actor: string },
): Promise<ClaimOutcome> {
  if (await insertFirstClaim(db, request)) return { outcome: 'claimed' };
  return db.transaction().execute(async (trx) => {
    await lockDealId(trx, request.dealId);
    const existing = await findClaim(trx, request.dealId, { forUpdate: true });
    const usedBefore = existing ? false : await dealIdUsed(trx, request.dealId);
    const { write, ...outcome } = decideClaim(existing, request, usedBefore);
    if (write === 'insert') await insertClaim(trx, request);
    if (write === 'take_over') await setClaimRun(trx, request.dealId, request.runId);
    if (outcome.outcome === 'result')
      await appendAuditEvent(trx, {
        actor: request.actor,
        kind: AuditKind.dealLifecycle.claimReplayed,
        subject: `deal:${request.dealId}`,
        details: {
          workflowId: request.workflowId,
          runId: request.runId,
          claimedBy: existing?.workflowId,
          result: outcome.result,
        },
        idempotencyKey: `deal-claim:${request.dealId}:${request.workflowId}:${request.runId}`,
      });
    return outcome;
  });
}

/**
 * An operator's reconcileDeal, on the audit chain with its actor and reason; keyed, so a retry appends it once.
 * With `releaseNeedsApproval`, a release counts only under an applied `deal_release` change request for this
 * deal (invariant 8: releasing money is never one person's word); one that does not is audited as refused.
 */
export async function auditReconciliation(
  db: Kysely<Database>,
  input: Parameters<DealActivities['auditReconciliation']>[0],
): Promise<ReconciliationAudit> {
  const request =
    input.releaseNeedsApproval && !input.executed && input.changeRequestId !== undefined
      ? await readChangeRequest(db, input.changeRequestId)
      : undefined;
  const verdict: ReconciliationAudit =
    input.releaseNeedsApproval && !input.executed
      ? releaseCounts(input.dealId, input.changeRequestId, request)
      : { counted: true };
  const details = {
    executed: input.executed,
    realizedLoss: input.realizedLoss,
    reason: input.reason,
    ...(input.changeRequestId !== undefined ? { changeRequestId: input.changeRequestId } : {}),
  };
  await db.transaction().execute((trx) =>
    appendAuditEvent(trx, {
      actor: input.actor,
      kind: verdict.counted ? AuditKind.dealLifecycle.reconciled : AuditKind.dealLifecycle.reconcileRefused,
      subject: `deal:${input.dealId}`,
      details: verdict.counted ? details : { ...details, problem: verdict.problem },
      idempotencyKey: input.key,
    }),
  );
  return verdict;
}
