import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { spendApprovalToken } from '../../src/db/approval-tokens.repository';
import { auditChangeRequest, lockChangeRequest, saveChangeRequestState } from '../../src/db/change-requests.repository';
import type { Database } from '../../src/db/database';
import { applyPolicyChanges } from '../../src/db/policy-state.repository';
import type { ApprovalSettings } from '../../src/security/approvals';
import { policyChangeOf } from '../../src/domain/change-requests/prepare';
import type { Requester } from '../../src/domain/change-requests/request';
import { ROLES, type Role } from '../../src/domain/identity/roles';
import { ErrorType } from '../../src/domain/shared/errors';
import { checkApprovalFor } from '../approvals';

// A change request's two checks off the workflow: who asks (the requester's
// token), and its apply, one transaction with every change and its audit.

export interface RequesterProof {
  ok: true;
  /** The roles that count for classifying the request. */
  roles: Role[];
  /** A token proved who asks (or a Warden workflow asks). */
  proven: boolean;
  /** Spends the token once the request is accepted: the problem, or null. */
  spend: () => Promise<string | null>;
}

const nothingToSpend = async () => null;

/**
 * Who asks, and which of the roles they name count for classifying: with a token
 * (audience `<workflowId>:request`) those it grants, each checked; without, with
 * signed approvals on, none (a human's request that loosens is then refused);
 * otherwise the roles named. A Warden workflow (`system`) holds none and needs no token.
 */
export async function proveRequester(
  db: Kysely<Database>,
  settings: ApprovalSettings,
  requester: Requester,
  token: string | undefined,
  use: { audience: string; requestKey: string },
  system: boolean,
): Promise<RequesterProof | { ok: false; problem: string }> {
  if (system) {
    if (requester.roles.length > 0)
      return { ok: false, problem: 'requestedBy.roles: a Warden workflow holds no roles' };
    return { ok: true, roles: [], proven: true, spend: nothingToSpend };
  }
  if (token === undefined)
    return { ok: true, roles: settings.approvals.signed ? [] : requester.roles, proven: false, spend: nothingToSpend };
  let claimed: { tokenId: string; subject: string } | undefined;
  for (const role of requester.roles.length > 0 ? requester.roles : [undefined]) {
    const claim = await checkApprovalFor(
      db,
      { actor: requester.name, role, token },
      role ? [role] : ROLES,
      settings,
      use,
    );
    if (!claim.ok) return { ok: false, problem: claim.problem };
    claimed = claim.token;
  }
  const spend = async () => {
    if (claimed === undefined) return null;
    const spent = await spendApprovalToken(db, claimed, use);
    return spent.ok ? null : spent.problem;
  };
  return { ok: true, roles: requester.roles, proven: true, spend };
}

/** Status check, every change (each audited by its setter), status `applied` and its audit: all or nothing. */
export async function applyInOneTransaction(db: Kysely<Database>, id: string, key: string) {
  return db.transaction().execute(async (trx) => {
    const row = await lockChangeRequest(trx, id);
    if (!row) throw ApplicationFailure.nonRetryable(`change request ${id} is not recorded`, ErrorType.InvalidInput);
    // A retry after the commit: the control-plane changes are sent again (each resend is harmless).
    if (row.status === 'applied') return { outcome: 'applied' as const, appliedAt: row.appliedAt!, request: row };
    if (row.status !== 'approved') return { outcome: 'not_approved' as const, status: row.status };
    const actor = row.requestedBy.name;
    await applyPolicyChanges(trx, row.changes.map(policyChangeOf), { actor, changeRequestId: id });
    const at = new Date();
    await saveChangeRequestState(trx, id, { status: 'applied', approvals: row.approvals, appliedAt: at });
    await auditChangeRequest(trx, id, {
      actor,
      event: 'applied',
      details: { changes: row.changes, approvals: row.approvals, revision: row.revision },
      idempotencyKey: `${key}:applied`,
    });
    return { outcome: 'applied' as const, appliedAt: at.toISOString(), request: row };
  });
}

/** Nothing applied: the request ends stale, with what moved. */
export async function markStale(db: Kysely<Database>, id: string, detail: string, key: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await lockChangeRequest(trx, id);
    if (row?.status !== 'approved') return;
    await saveChangeRequestState(trx, id, { status: 'stale', approvals: row.approvals, detail });
    await auditChangeRequest(trx, id, {
      actor: 'warden:policy-change',
      event: 'stale',
      details: { detail },
      idempotencyKey: `${key}:stale`,
    });
  });
}
