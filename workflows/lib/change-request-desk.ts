// The decisions of one change request: approve, reject, edit and cancel, by
// update or signal, screened by the same rules, then judged one at a time in
// the main loop (approver check by the worker, the decision saved with its
// audit), so racing or repeated deliveries count once. Refusals are audited;
// past the message budget the request continues as new (`rollsOver`; runs from
// before that ignored the rest, audited once), so spam cannot starve it.
import { allHandlersFinished, ApplicationFailure, condition, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { ChangeRequestEvent } from '../../src/domain/audit/kinds';
import type { ChangeRequestActivities } from '../../src/domain/change-requests/activities';
import {
  type ApprovalRecord,
  judgeApproval,
  judgeRejection,
  missingApprovals,
} from '../../src/domain/change-requests/approvals';
import {
  ApproveChangePayloadSchema,
  CancelChangePayloadSchema,
  type ChangeRequestStatus,
  type ChangeRequestView,
  EditChangePayloadSchema,
  MAX_MESSAGES,
  moveTo,
  type ProposedChange,
  RejectChangePayloadSchema,
} from '../../src/domain/change-requests/request';
import type { Role } from '../../src/domain/identity/roles';
import type { ApprovalActivities } from '../../src/domain/identity/activities';
import { approvalAudience } from '../../src/domain/identity/audience';
import { Visibility } from './visibility';
import { sameIdentity } from '../../src/domain/identity/separation';
import { ErrorType } from '../../src/domain/shared/errors';
import { describeIssues } from '../../src/domain/shared/validation';
import { ApprovalInbox } from './approval-inbox';
import { Mailbox } from './mailbox';

export type ChangeRequestCalls = ChangeRequestActivities & ApprovalActivities;
export type DecisionKind = 'approve' | 'reject' | 'edit' | 'cancel';

const SCHEMAS: Record<DecisionKind, z.ZodType> = {
  approve: ApproveChangePayloadSchema,
  reject: RejectChangePayloadSchema,
  edit: EditChangePayloadSchema,
  cancel: CancelChangePayloadSchema,
};
/** Where each decision may be taken. */
const OPEN_TO: Record<DecisionKind, readonly ChangeRequestStatus[]> = {
  approve: ['pending'],
  reject: ['pending', 'approved'],
  edit: ['pending'],
  cancel: ['pending', 'approved'],
};

/** Any decision's payload once parsed: every one names its actor; the kind says which other fields it has. */
interface Parsed {
  actor: string;
  role?: Role;
  token?: string;
  comment?: string;
  reason?: string;
  changes?: ProposedChange[];
}
type Screened = { problem: string } | { duplicate: true } | { payload: Parsed };
interface Letter {
  kind: DecisionKind;
  payload: unknown;
}

export const WARDEN_ACTOR = 'warden:policy-change';

export class ChangeRequestDesk {
  /** Set once the request is recorded (or refused), and applied when nothing needed approval: `opened` answers then. */
  settledOpen = false;
  private readonly mailbox = new Mailbox<Letter, string | null>();
  private readonly inbox: ApprovalInbox;
  private messages = 0;
  private budget: 'open' | 'spent' | 'audited' = 'open';
  private seq = 0;
  /** Since the rollover: past the budget every message is still judged, and the run hands over to a new one. */
  rollsOver = false;
  /** The budget of one run (since the rollover); MAX_MESSAGES unless the start lowers it. */
  messagesPerRun = MAX_MESSAGES;
  private readonly visibility = new Visibility().decide();

  constructor(
    public view: ChangeRequestView,
    private readonly calls: ChangeRequestCalls,
  ) {
    this.inbox = new ApprovalInbox({
      verifyApproval: calls.verifyApproval,
      audit: { subject: `change-request:${view.id}`, auditRejectedMessage: calls.auditChangeRequestMessage },
    });
  }

  /** The run has taken its budget of messages (or Temporal suggests a new run): time to continue as new. */
  get full(): boolean {
    return this.rollsOver && (this.messages >= this.messagesPerRun || workflowInfo().continueAsNewSuggested);
  }

  /** Something to judge or audit: what the main loop wakes for. */
  get unjudged(): boolean {
    return this.mailbox.size > 0 || this.inbox.refusing > 0 || this.budget === 'spent';
  }

  /** A fresh idempotency key for an activity, the same on replay. */
  key(what: string): string {
    this.seq += 1;
    return `${workflowInfo().runId}:${what}:${this.seq}`;
  }

  /** Signals never throw: a refusal is audited, a well-formed decision queued for the main loop. */
  bySignal(kind: 'approve' | 'reject'): (payload: unknown) => void {
    return (payload: unknown) => {
      if (!this.admit()) return;
      const screened = this.screen(kind, payload);
      if ('problem' in screened) this.inbox.refuse(kind, payload ?? null, screened.problem);
      else if ('payload' in screened) this.mailbox.post({ kind, payload });
    };
  }

  /** An update's validator: the same rules, the reason handed back (and nothing in history). */
  validate(kind: DecisionKind): (payload: unknown) => void {
    return (payload: unknown) => {
      if (!this.rollsOver && this.messages >= MAX_MESSAGES)
        throw refusal(kind, `request ${this.view.id} takes no more messages`);
      const screened = this.screen(kind, payload);
      if ('problem' in screened) throw refusal(kind, screened.problem);
    };
  }

  /** An update's handler: answers the request once the decision is judged, or fails with the reason. */
  byUpdate(kind: DecisionKind): (payload: unknown) => Promise<ChangeRequestView> {
    return async (payload: unknown) => {
      if (!this.admit()) throw refusal(kind, `request ${this.view.id} takes no more messages`);
      const problem = await this.mailbox.ask({ kind, payload });
      if (problem !== null) throw refusal(kind, problem);
      return this.view;
    };
  }

  /** Judges what is queued, audits the refusals and a spent budget: always in this order. */
  async settle(): Promise<void> {
    await this.mailbox.drain((letter) => this.judge(letter));
    await this.inbox.auditRefusals(() => void (this.view.rejectedMessages += 1));
    this.show();
    if (this.budget === 'spent') {
      this.budget = 'audited';
      await this.calls.auditChangeRequestMessage({
        subject: `change-request:${this.view.id}`,
        message: 'any',
        payload: null,
        problem: `more than ${MAX_MESSAGES} messages: later ones are ignored`,
        key: this.key('budget'),
        event: 'messages_ignored',
      });
    }
  }

  /** Saves a move of the request (with its audit events), mirrored on the view first. */
  async save(events: { actor: string; event: ChangeRequestEvent; details?: Record<string, unknown> }[]): Promise<void> {
    const v = this.view;
    await this.calls.saveChangeRequestDecision({
      id: v.id,
      status: v.status as ChangeRequestStatus,
      approvals: v.approvals,
      detail: v.detail,
      ...(v.decidedAt !== null ? { decidedAt: v.decidedAt } : {}),
      ...(v.decidedBy !== null ? { decidedBy: v.decidedBy } : {}),
      events,
      key: this.key('decision'),
    });
  }

  /** Judges what is left (refused: the request has ended) until every handler has finished; answers the view. */
  async close(): Promise<ChangeRequestView> {
    this.settledOpen = true;
    for (;;) {
      await this.settle();
      if (!this.unjudged && allHandlersFinished()) return this.view;
      await condition(() => this.unjudged || allHandlersFinished());
    }
  }

  /** The request in the Web UI: its status, the roles still missing, and in words what it waits for. */
  show(): void {
    const v = this.view;
    const waiting = v.status === 'pending' ? [...new Set(v.missing.flatMap((slot) => slot.roles))] : [];
    const ended = !['opening', 'pending', 'approved'].includes(v.status);
    this.visibility.show(
      { stage: v.status, awaitingApproval: waiting, ...(ended ? { outcome: v.status } : {}) },
      v.status === 'pending'
        ? `Change request ${v.id} by ${v.requestedBy.name} waits for ${v.missing.length} approval(s) (${v.missing.map((slot) => slot.roles.join(' or ')).join('; ')}) until ${v.expiresAt ?? 'it expires'}`
        : v.status === 'approved'
          ? `Change request ${v.id} is approved; it applies at ${v.applyAt ?? 'once'}`
          : `Change request ${v.id}: ${v.status}${v.detail ? ` (${v.detail})` : ''}`,
    );
  }

  private admit(): boolean {
    this.messages += 1;
    if (this.rollsOver || this.messages <= MAX_MESSAGES) return true;
    if (this.budget === 'open') this.budget = 'spent';
    return false;
  }

  /** The workflow's own checks, against the request as it stands. Until it is recorded, only the payload is checked. */
  private screen(kind: DecisionKind, payload: unknown): Screened {
    const parsed = SCHEMAS[kind].safeParse(payload);
    if (!parsed.success) return { problem: describeIssues(parsed.error) };
    const p = parsed.data as Parsed;
    const v = this.view;
    if (v.status === 'opening') return { payload: p };
    if (v.status === 'refused' || !OPEN_TO[kind].includes(v.status))
      return { problem: `request ${v.id} is ${v.status}: it takes no ${kind}` };
    const requestedBy = v.requestedBy.name;
    if (kind === 'edit' || kind === 'cancel')
      return sameIdentity(p.actor, requestedBy)
        ? { payload: p }
        : { problem: `actor: only ${requestedBy}, who requested this change, may ${kind} it` };
    if (kind === 'reject') {
      const check = judgeRejection({ requestedBy, required: v.required }, { actor: p.actor, role: p.role! });
      return check.ok ? { payload: p } : { problem: check.problem };
    }
    const judged = judgeApproval({ ...v, requestedBy: v.requestedBy.name }, this.record(p));
    if (judged.outcome === 'refused') return { problem: judged.problem };
    return judged.outcome === 'duplicate' ? { duplicate: true } : { payload: p };
  }

  private record(p: Parsed): ApprovalRecord {
    return { actor: p.actor, role: p.role!, comment: p.comment ?? null, at: new Date().toISOString() };
  }

  /** One decision: screened again (the request may have moved), the approver checked off the workflow, then saved. */
  private async judge(letter: Letter): Promise<string | null> {
    const screened = this.screen(letter.kind, letter.payload);
    if ('duplicate' in screened) return null;
    const problem = 'problem' in screened ? screened.problem : await this.decide(letter.kind, screened.payload);
    if (problem !== null) this.inbox.refuse(letter.kind, letter.payload ?? null, problem);
    return problem;
  }

  private async decide(kind: DecisionKind, p: Parsed): Promise<string | null> {
    if (kind === 'approve' || kind === 'reject') {
      const verdict = await this.calls.verifyApproval({
        actor: p.actor,
        role: p.role!,
        usedFor: approvalAudience(this.view.workflowId, kind),
        ...(p.token !== undefined ? { token: p.token } : {}),
        excluded: [{ actor: this.view.requestedBy.name, as: 'requested this change' }],
      });
      if (!verdict.ok) return verdict.problem;
    }
    const at = new Date();
    const v = this.view;
    switch (kind) {
      case 'approve': {
        const judged = judgeApproval({ ...v, requestedBy: v.requestedBy.name }, this.record(p));
        if (judged.outcome === 'refused') return judged.problem;
        if (judged.outcome === 'duplicate') return null;
        v.approvals = judged.approvals;
        v.missing = missingApprovals(v.required, v.approvals);
        const events: Parameters<ChangeRequestDesk['save']>[0] = [
          { actor: p.actor, event: 'approval_counted', details: { role: p.role, comment: p.comment ?? null } },
        ];
        if (v.missing.length === 0 && moveTo(v, 'approved', { actor: p.actor, at }))
          events.push({ actor: p.actor, event: 'approved', details: { approvals: v.approvals } });
        await this.save(events);
        return null;
      }
      case 'reject':
        moveTo(v, 'rejected', { actor: p.actor, at, detail: `rejected by ${p.actor} (${p.role}): ${p.reason}` });
        await this.save([{ actor: p.actor, event: 'rejected', details: { role: p.role, reason: p.reason } }]);
        return null;
      case 'cancel':
        moveTo(v, 'cancelled', { actor: p.actor, at, detail: `cancelled by ${p.actor}: ${p.reason}` });
        await this.save([{ actor: p.actor, event: 'cancelled', details: { reason: p.reason } }]);
        return null;
      case 'edit':
        return this.edit(p, at);
    }
  }

  /** The requester's new changes: read and classified again by the activity, every approval revoked. */
  private async edit(p: Parsed, at: Date): Promise<string | null> {
    const v = this.view;
    const revised = await this.calls.reviseChangeRequest({
      id: v.id,
      workflowId: v.workflowId,
      actor: p.actor,
      changes: p.changes!,
      reason: p.reason,
      ...(p.token !== undefined ? { token: p.token } : {}),
      revision: v.revision + 1,
    });
    if (!revised.ok) return revised.problem;
    v.revision += 1;
    v.changes = revised.changes;
    v.required = revised.required;
    v.reason = revised.reason;
    v.approvals = [];
    v.missing = [...revised.required];
    // An edit that loosens nothing any more is approved at once, as a new request would be.
    if (v.required.length === 0) moveTo(v, 'approved', { actor: p.actor, at });
    return null;
  }
}

function refusal(kind: DecisionKind, problem: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    problem,
    kind === 'approve' || kind === 'reject' ? ErrorType.ApprovalRefused : ErrorType.ChangeRequestRefused,
  );
}
