// Deal claims (issue 13): lock the deal id → decide (src/domain/deals/claims)
// → write the claim and audit, one transaction.
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database';
import { appendAuditEvent } from '../../src/db/audit.repository';
import { dealIdUsed, findClaim, insertClaim, lockDealId, setClaimRun } from '../../src/db/deal-claims.repository';
import { AuditKind } from '../../src/domain/audit/kinds';
import { type ClaimOutcome, type ClaimRequest, decideClaim } from '../../src/domain/deals/claims';

/**
 * Claims a deal id once, with its terms. Serialised per deal id, so two
 * workflows racing for one id cannot both claim it; a retry by the same run
 * is granted again. A second workflow answered with the first one's result
 * is audited (once per run), so the log says who asked again.
 */
export async function claimDeal(
  db: Kysely<Database>,
  request: ClaimRequest & { actor: string },
): Promise<ClaimOutcome> {
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

/** An operator's reconcileDeal, on the audit chain with its actor and reason; keyed, so a retry appends it once. */
export async function auditReconciliation(
  db: Kysely<Database>,
  input: { key: string; dealId: string; executed: boolean; realizedLoss: number; actor: string; reason: string },
): Promise<void> {
  await db.transaction().execute((trx) =>
    appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.dealLifecycle.reconciled,
      subject: `deal:${input.dealId}`,
      details: { executed: input.executed, realizedLoss: input.realizedLoss, reason: input.reason },
      idempotencyKey: input.key,
    }),
  );
}
