// Seed 003's execution permits: lock the symbol → decide (src/domain/permits)
// → write the permit, block or disarm record, then audit.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../src/db/database';
import { recordAuditEvents } from '../../src/db/audit.repository';
import {
  findPermitByKey,
  insertDisarmRecord,
  insertPermit,
  insertPermitBlock,
  lockPermit,
  lockSymbol,
  readPermitInputs,
  setPermitStatus,
} from '../../src/db/permits.repository';
import {
  type ConsumeResult,
  decideConsume,
  type PermitDecision,
  permitAudits,
  type PermitRequest,
  priorPermitDecision,
} from '../../src/domain/permits/decisions';
import { decidePermit, type GovernorSettings } from '../../src/domain/permits/rules';
import type { ApplyMode } from '../../src/domain/control-plane/types';
import { findClaim, markExecuting, setClaimRun } from '../../src/db/deal-claims.repository';
import { claimAllowsExecution } from '../../src/domain/deals/claims';

/**
 * Issues a single-use permit, or records a block with its reason. Serialised
 * per symbol, idempotent per key. A burst breach with auto-disarm on also
 * writes the disarm record; the caller then disarms the control plane. The
 * audit events follow in their own transaction (keyed, so a retry after a
 * crash in between appends them once): the symbol's lock is never held
 * while waiting for the audit chain.
 */
export async function issuePermit(
  db: Kysely<Database>,
  settings: GovernorSettings,
  request: PermitRequest,
): Promise<PermitDecision> {
  const decision = await db.transaction().execute((trx) => issuePermitInTransaction(trx, settings, request));
  await recordAuditEvents(db, permitAudits(request, decision));
  return decision;
}

/** The permit decision itself, inside the caller's transaction (admitDeal's, or its own); the caller audits. */
export async function issuePermitInTransaction(
  trx: Transaction<Database>,
  settings: GovernorSettings,
  request: PermitRequest,
): Promise<PermitDecision> {
  await lockSymbol(trx, request.symbol);
  const { permit, block, counts } = await readPermitInputs(trx, request.key, request.symbol, request.at);
  const prior = priorPermitDecision(permit, block);
  if (prior) return prior;
  const check = decidePermit(counts, settings);
  if (!check.ok) {
    await insertPermitBlock(trx, {
      key: request.key,
      dealId: request.dealId,
      symbol: request.symbol,
      reason: check.reason,
      at: request.at,
      detail: check.detail,
      disarm: check.disarm,
    });
    if (check.disarm)
      await insertDisarmRecord(trx, {
        key: `disarm:${request.key}`,
        symbol: request.symbol,
        at: request.at,
        context: { dealId: request.dealId, detail: check.detail },
      });
    return {
      granted: false,
      symbol: request.symbol,
      reason: check.reason,
      detail: check.detail,
      disarm: check.disarm,
    };
  }
  const expiresAt = new Date(request.at.getTime() + settings.permitTtlSeconds * 1000);
  const id = randomUUID();
  await insertPermit(trx, {
    id,
    key: request.key,
    dealId: request.dealId,
    symbol: request.symbol,
    issuedAt: request.at,
    expiresAt,
  });
  return {
    granted: true,
    permitId: id,
    symbol: request.symbol,
    issuedAt: request.at.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
}

/**
 * Uses a permit once, before its TTL; the same run asking again (a retry) is
 * told yes. With `run`, the deal's claim decides too: only a run of the
 * claiming workflow may use it, never after another run did (a reset), and
 * the claim moves to `executing` in the same transaction.
 */
export async function consumePermit(
  db: Kysely<Database>,
  request: {
    permitId: string;
    dealId: string;
    at: Date;
    run?: { workflowId: string; runId: string; applyMode: ApplyMode };
  },
): Promise<ConsumeOutcome> {
  return db.transaction().execute((trx) => consumePermitIn(trx, request));
}

type ConsumeOutcome =
  ConsumeResult | { ok: false; reason: 'deal_already_executing'; detail: string; ambiguous: boolean };

/** {@link consumePermit} inside the caller's transaction (the last gate holds the control plane's row in it). */
export async function consumePermitIn(
  trx: Transaction<Database>,
  request: Parameters<typeof consumePermit>[1],
): Promise<ConsumeOutcome> {
  const permit = await lockPermit(trx, request.permitId);
  const claim = request.run ? await findClaim(trx, request.dealId, { forUpdate: true }) : undefined;
  const byClaim = claimAllowsExecution(claim, request.run);
  if (!byClaim.ok) {
    // A new run of the claiming workflow (a reset) takes over the wait for reconciliation.
    if (byClaim.ambiguous && claim?.workflowId === request.run?.workflowId)
      await setClaimRun(trx, request.dealId, request.run!.runId);
    return { ok: false, reason: 'deal_already_executing', detail: byClaim.detail, ambiguous: byClaim.ambiguous };
  }
  const { consume, ...result } = decideConsume(permit, request);
  // Not audited on its own: the deal's outcome event names the permit it used.
  if (consume) await setPermitStatus(trx, request.permitId, { status: 'consumed', at: request.at });
  if (result.ok && byClaim.advance && request.run)
    await markExecuting(trx, {
      dealId: request.dealId,
      runId: request.run.runId,
      permitId: request.permitId,
      applyMode: request.run.applyMode,
    });
  return result as ConsumeResult;
}

/** Compensation: an unused permit of a stopped deal is revoked and stops counting against the limits. */
export async function revokePermit(
  db: Kysely<Database>,
  request: { permitId: string; reason: string } | { key: string; reason: string },
): Promise<{ revoked: boolean }> {
  return db.transaction().execute(async (trx) => {
    // By key: the deal's permit when the run never heard its id (a cancel while admission ran).
    const permitId = 'permitId' in request ? request.permitId : (await findPermitByKey(trx, request.key))?.id;
    const permit = permitId === undefined ? undefined : await lockPermit(trx, permitId);
    if (!permit || permit.status !== 'issued') return { revoked: false };
    // Compensation is summarised in the deal's outcome event.
    await setPermitStatus(trx, permit.id, { status: 'revoked' });
    return { revoked: true };
  });
}
