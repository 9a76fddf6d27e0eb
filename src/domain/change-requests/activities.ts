import type { ChangeRequestEvent } from '../audit/kinds';
import type { ApprovalRecord, ApprovalSlot } from './approvals';
import type { ClassifiedChange } from './classify';
import type { ChangeRequestStatus, ChangeRequestView, ProposedChange } from './request';

// The change-request activity contract, implemented by activities/change-requests.ts.
// Each write is one transaction with its audit events, keyed so a retry appends once.

export interface OpenChangeRequestInput {
  workflowId: string;
  runId: string;
  /** The workflow's start payload as it came (a raw `temporal workflow start` included): the activity parses it. */
  start: unknown;
  /** The workflow's start time (ISO 8601): the request dates from it, and expires from it. */
  at: string;
  /** Started as a child of another Warden workflow: only then may a `warden:<workflow>` requester open one. */
  startedByWorkflow: boolean;
}

/** A request recorded (pending, or approved at once when nothing loosens), or refused with the reason (nothing recorded). */
export type OpenChangeRequestResult = { ok: true; request: ChangeRequestView } | { ok: false; problem: string };

export interface ReviseChangeRequestInput {
  id: string;
  workflowId: string;
  actor: string;
  changes: ProposedChange[];
  reason?: string | undefined;
  token?: string | undefined;
  /** The revision the edit makes: a retried edit finds it already written. */
  revision: number;
}

export type ReviseChangeRequestResult =
  { ok: true; changes: ClassifiedChange[]; required: ApprovalSlot[]; reason: string } | { ok: false; problem: string };

export interface SaveChangeRequestDecisionInput {
  id: string;
  status: ChangeRequestStatus;
  approvals: ApprovalRecord[];
  detail?: string | null;
  /** Workflow time of the decision (ISO 8601). */
  decidedAt?: string;
  decidedBy?: string;
  /** The audit events of this decision, in order (e.g. approval_counted, then approved). */
  events: { actor: string; event: ChangeRequestEvent; details?: Record<string, unknown> }[];
  key: string;
}

export type ApplyChangeRequestResult =
  | { outcome: 'applied'; appliedAt: string }
  /** The state a change was read against moved on: nothing applied, the request is stale. */
  | { outcome: 'stale'; detail: string }
  /** The row is not approved (e.g. decided elsewhere): nothing applied. */
  | { outcome: 'not_approved'; status: ChangeRequestStatus };

export interface ChangeRequestActivities {
  /** Reads the current state, fills each change's `before`, drops no-ops, classifies, records: one transaction. */
  openChangeRequest(input: OpenChangeRequestInput): Promise<OpenChangeRequestResult>;
  /** An edit by the requester: the same reading and classifying, approvals revoked, one transaction. */
  reviseChangeRequest(input: ReviseChangeRequestInput): Promise<ReviseChangeRequestResult>;
  saveChangeRequestDecision(input: SaveChangeRequestDecisionInput): Promise<void>;
  /** Status check, the changes, status `applied` and its audit: one transaction; then the control-plane changes. */
  applyChangeRequest(input: { id: string; key: string }): Promise<ApplyChangeRequestResult>;
  /** A refused message, audited without its token (same shape as the approval inbox's audit). */
  auditChangeRequestMessage(input: {
    subject: string;
    message: string;
    payload: unknown;
    problem: string;
    key: string;
    /** `messages_ignored` once the message budget is spent; a refusal otherwise. */
    event?: Extract<ChangeRequestEvent, 'message_rejected' | 'messages_ignored'>;
  }): Promise<void>;
}
