import type { Role } from './roles';
import type { Excluded } from './separation';

// The signed-approval activity contract, implemented by activities/approvals.ts.

export type ApprovalVerdict = { ok: true } | { ok: false; problem: string };

/** Signed approvals for workflows that take approvals by signal or update: the token is checked and spent off the workflow. */
export interface ApprovalActivities {
  /**
   * `excluded` names who may not approve this (its requester, say): refused before any token is
   * spent, and decided here so the verdict is recorded in the workflow's history.
   */
  verifyApproval(input: {
    actor: string;
    /** The role approved in; left out, whichever of `acceptable` the token grants. */
    role?: Role;
    /** The roles that may approve (default: `role` alone). */
    acceptable?: readonly Role[];
    token?: string;
    usedFor: string;
    excluded?: Excluded[];
  }): Promise<ApprovalVerdict>;
  /**
   * Audits that `subject` now waits for approval by `roles` until `deadline` (and so notifies operators).
   * `key` makes a retried or replayed announcement one event.
   */
  announceApprovalWaiting(input: ApprovalWaiting): Promise<void>;
}

/** What waits, for whom, until when: the `approval.waiting` audit event's details. */
export interface ApprovalWaiting {
  key: string;
  subject: string;
  /** In words, for the notification: "Command c-1 (restart_service)". */
  what: string;
  roles: readonly string[];
  deadline: string;
  requestedBy: string;
}
