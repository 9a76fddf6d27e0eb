import type { Selectable, Transaction } from 'kysely';
import { AuditKind, type ChangeRequestEvent } from '../domain/audit/kinds';
import { type ApprovalRecord, type ApprovalSlot, missingApprovals } from '../domain/change-requests/approvals';
import type { ClassifiedChange } from '../domain/change-requests/classify';
import { type ChangeRequestStatus, type ChangeRequestView, type Requester } from '../domain/change-requests/request';
import { changeRequestWorkflowId } from '../domain/change-requests/id';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';
import type { ChangeRequestTable } from './tables/change-requests';
import type { Db } from './transaction';

// Warden's record of each change request, written by its `policyChange`
// workflow's activities; the control plane reads it to take a loosening
// signal as the application of an approved request.

export interface ChangeRequestRecord {
  id: string;
  runId: string;
  requestedBy: Requester;
  reason: string;
  changes: ClassifiedChange[];
  required: ApprovalSlot[];
  approvals: ApprovalRecord[];
  status: ChangeRequestStatus;
  detail: string | null;
  revision: number;
  applyAt: string | null;
  expiresAt: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  appliedAt: string | null;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

const toRecord = (r: Selectable<ChangeRequestTable>): ChangeRequestRecord => ({
  id: r.id,
  runId: r.run_id,
  requestedBy: { name: r.requested_by, roles: r.requester_roles },
  reason: r.reason,
  changes: r.changes,
  required: r.required,
  approvals: r.approvals,
  status: r.status,
  detail: r.detail,
  revision: r.revision,
  applyAt: iso(r.apply_at),
  expiresAt: r.expires_at.toISOString(),
  createdAt: r.created_at.toISOString(),
  decidedAt: iso(r.decided_at),
  decidedBy: r.decided_by,
  appliedAt: iso(r.applied_at),
});

/** A recorded request as the workflow's `status` query shows it (the row does not count refused messages). */
export function changeRequestView(r: ChangeRequestRecord): ChangeRequestView {
  const { runId: _run, ...shown } = r;
  return {
    ...shown,
    workflowId: changeRequestWorkflowId(r.id),
    missing: missingApprovals(r.required, r.approvals),
    rejectedMessages: 0,
  };
}

export interface NewChangeRequestRecord {
  id: string;
  runId: string;
  requestedBy: Requester;
  reason: string;
  changes: ClassifiedChange[];
  required: ApprovalSlot[];
  status: Extract<ChangeRequestStatus, 'pending' | 'approved'>;
  applyAt: Date | null;
  expiresAt: Date;
  createdAt: Date;
}

/** Who did what to a request, for its audit event. */
export interface ChangeRequestAuditEntry {
  actor: string;
  event: ChangeRequestEvent;
  details?: Record<string, unknown>;
  /** A retried writer passes the same key: the event is appended once. */
  idempotencyKey: string;
}

/** Appends one event of a request's history, in the caller's transaction. */
export async function auditChangeRequest(
  trx: Transaction<Database>,
  id: string,
  entry: ChangeRequestAuditEntry,
): Promise<void> {
  await appendAuditEvent(trx, {
    actor: entry.actor,
    kind: AuditKind.changeRequest[entry.event],
    subject: `change-request:${id}`,
    details: { changeRequestId: id, ...entry.details },
    idempotencyKey: entry.idempotencyKey,
  });
}

/**
 * Records a request once; the row already there (a retried open, or another
 * run that used the id) is answered instead, for the caller to judge.
 */
export async function recordChangeRequest(
  trx: Transaction<Database>,
  r: NewChangeRequestRecord,
): Promise<{ recorded: boolean; request: ChangeRequestRecord }> {
  const written = await trx
    .insertInto('change_request')
    .values({
      id: r.id,
      run_id: r.runId,
      requested_by: r.requestedBy.name,
      requester_roles: JSON.stringify(r.requestedBy.roles),
      reason: r.reason,
      changes: JSON.stringify(r.changes),
      required: JSON.stringify(r.required),
      approvals: JSON.stringify([]),
      status: r.status,
      apply_at: r.applyAt,
      expires_at: r.expiresAt,
      created_at: r.createdAt,
      decided_at: r.status === 'approved' ? r.createdAt : null,
      // Nothing in it loosens: approved by the rule, not by a person.
      decided_by: r.status === 'approved' ? 'warden:policy-change' : null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (written) return { recorded: true, request: toRecord(written) };
  return { recorded: false, request: (await lockChangeRequest(trx, r.id))! };
}

export async function readChangeRequest(db: Db, id: string): Promise<ChangeRequestRecord | undefined> {
  const row = await db.selectFrom('change_request').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Reads a request for update: its writers (decisions, apply) serialise on the row. */
export async function lockChangeRequest(
  trx: Transaction<Database>,
  id: string,
): Promise<ChangeRequestRecord | undefined> {
  const row = await trx.selectFrom('change_request').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Requests, newest first, optionally of one status. */
export async function listChangeRequests(
  db: Db,
  filter: { status?: ChangeRequestStatus; limit?: number } = {},
): Promise<ChangeRequestRecord[]> {
  let q = db
    .selectFrom('change_request')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  return (await q.execute()).map(toRecord);
}

/** A request's decision state as the workflow holds it: approvals, status, and (after an edit) its changes. */
export interface ChangeRequestState {
  status: ChangeRequestStatus;
  approvals: ApprovalRecord[];
  detail?: string | null;
  decidedAt?: Date | null;
  decidedBy?: string | null;
  appliedAt?: Date | null;
  /** An edit: the new changes, reason, requirement and revision. */
  revised?: { changes: ClassifiedChange[]; required: ApprovalSlot[]; reason: string; revision: number };
}

/** Writes the workflow's state of a request: the row follows the workflow, which serialises every decision. */
export async function saveChangeRequestState(
  trx: Transaction<Database>,
  id: string,
  state: ChangeRequestState,
): Promise<void> {
  await trx
    .updateTable('change_request')
    .set({
      status: state.status,
      approvals: JSON.stringify(state.approvals),
      ...(state.detail !== undefined ? { detail: state.detail } : {}),
      ...(state.decidedAt !== undefined ? { decided_at: state.decidedAt } : {}),
      ...(state.decidedBy !== undefined ? { decided_by: state.decidedBy } : {}),
      ...(state.appliedAt !== undefined ? { applied_at: state.appliedAt } : {}),
      ...(state.revised
        ? {
            changes: JSON.stringify(state.revised.changes),
            required: JSON.stringify(state.revised.required),
            reason: state.revised.reason,
            revision: state.revised.revision,
          }
        : {}),
    })
    .where('id', '=', id)
    .execute();
}
