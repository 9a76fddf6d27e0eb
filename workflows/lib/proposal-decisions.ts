// The decisions of one expansion proposal: every approve and reject, by signal
// or update, judged by the same rules; approvers checked by an activity (since
// signed approvals) in the main loop, refusals audited, and the proposal saved
// once per change, always in that order. The workflow wires the handlers to
// these and runs the waits.
import { allHandlersFinished, ApplicationFailure, condition, uuid4 } from '@temporalio/workflow';
import type { ApprovalActivities } from '../../src/domain/identity/activities';
import type { AutonomyActivities, ProposalActivities } from '../../src/domain/autonomy/activities';
import type { ProposalEvent } from '../../src/domain/audit/kinds';
import type { ApproverRole } from '../../src/domain/autonomy/phases';
import {
  type BreakerTrippedPayload,
  BreakerTrippedPayloadSchema,
  checkApproval,
  checkRejection,
  type ParsedProposalTerms,
  type ProposalView,
  SPILLED_MESSAGE,
} from '../../src/domain/autonomy/proposals';
import { redactToken } from '../../src/domain/identity/redact';
import { ErrorType } from '../../src/domain/shared/errors';
import { ApprovalInbox, type ApproverClaim } from './approval-inbox';
import { describeIssues, storablePayload, storableText } from '../../src/domain/shared/validation';
import { Visibility } from './visibility';
import { Mailbox } from './mailbox';

export const DAY_MS = 86_400_000;

export type Message = 'approve' | 'reject';
export type ProposalCalls = AutonomyActivities & ApprovalActivities & ProposalActivities;
type Change = { actor: string; event: ProposalEvent };
/**
 * A message one run received and did not judge, handed to the next: a decision to check, a refusal to
 * audit, or (since proposal-hands-over-unjudged) a breaker trip to confirm.
 */
export type HandedOver = { message: Message | 'breakerTripped'; payload: unknown; problem?: string };
/**
 * Signalled messages a run refused in aggregate because its hand-over was full (since
 * proposal-hands-over-unjudged): counted by kind with a few bounded samples, and audited as one event
 * by the next run, as the control plane's queue overflow is.
 */
export type Spilled = { count: number; kinds: Record<string, number>; samples: unknown[] };
/**
 * The most one run hands the next (since proposal-hands-over-unjudged): the continue-as-new input stays
 * well under Temporal's payload limit, however long the flood that fills it.
 */
export const HAND_OVER_LIMITS = { items: 2_000, chars: 256_000 } as const;
/**
 * The terms a proposal runs on: the start payload's (histories from before Warden-owned proposals, with
 * their own allowlist), or Warden's record (no allowlist: the approver table is read per decision).
 */
export type Terms = Omit<ParsedProposalTerms, 'approvers'> & {
  approvers?: ParsedProposalTerms['approvers'];
  requestedBy?: string;
};

export class ProposalDecisions {
  readonly view: ProposalView;
  private readonly changes: Change[] = [];
  private readonly inbox: ApprovalInbox;
  /** Well-formed decisions wait here for their approver check; an update's caller hears the answer. */
  private readonly awaitingCheck = new Mailbox<{ message: Message; payload: unknown }, string | null>();
  /** Well-formed breaker trips waiting for Warden's breaker event to confirm them. */
  private readonly trips: BreakerTrippedPayload[] = [];
  /** Refused in aggregate at a full hand-over, not yet audited (see Spilled). */
  private spilled: Spilled = { count: 0, kinds: {}, samples: [] };
  /** Characters of what handOverUnjudged has handed over so far in this run. */
  private handedChars = 0;
  private readonly visibility = new Visibility().decide();

  constructor(
    readonly terms: Terms,
    createdAt: Date,
    private readonly autonomy: ProposalCalls,
    /** Since Warden-owned proposals, and since signed approvals (each approver checked before it counts). */
    readonly since: { wardenOwned: boolean; verifiesApprovers: boolean },
  ) {
    this.view = openingView(terms, createdAt);
    this.inbox = new ApprovalInbox({
      verifyApproval: autonomy.verifyApproval,
      audit: {
        subject: `proposal:${terms.proposalId}`,
        auditRejectedMessage: autonomy.auditRejectedMessage,
        auditRejectedMessages: autonomy.auditRejectedMessages,
      },
    });
  }

  /** Refusals to audit, decisions or breaker trips to check, a spill to account for: what the main loop wakes for. */
  get unjudged(): boolean {
    return this.inbox.refusing > 0 || this.awaitingCheck.size > 0 || this.trips.length > 0 || this.spilled.count > 0;
  }

  /** Decisions whose update caller waits in this run, or approvals not yet saved: what a hand-over must finish. */
  get owed(): boolean {
    return this.changes.length > 0 || this.awaitingCheck.has((_, awaited) => awaited);
  }

  /** Signalled messages (not updates) not yet judged. */
  get signalledUnjudged(): boolean {
    return this.inbox.refusing > 0 || this.trips.length > 0 || this.awaitingCheck.has((_, awaited) => !awaited);
  }

  /** What the next run must audit as refused in aggregate, if anything. */
  get spill(): Spilled | undefined {
    return this.spilled.count > 0 ? this.spilled : undefined;
  }

  /** Approvals taken and not yet saved. */
  get unsaved(): number {
    return this.changes.length;
  }

  /**
   * Takes up to `most` signalled messages not yet judged out of this run, oldest first (an update's
   * stays: its caller waits here). A refused payload is compacted: it only has to reach the audit.
   */
  handOver(most: number): HandedOver[] {
    const refusals = this.inbox.takeRefusals(most).map((r) => ({
      message: r.message as HandedOver['message'],
      payload: storableText(JSON.stringify(storablePayload(r.payload ?? null)) ?? 'null', 1000),
      problem: r.problem,
    }));
    const checks = this.awaitingCheck.take(() => true, Math.max(0, most - refusals.length));
    return [...refusals, ...checks];
  }

  /**
   * Since proposal-hands-over-unjudged: takes every signalled message not yet judged out of this run into
   * `into` (decisions and trips first: they may count; refusals only await their audit), as far as
   * HAND_OVER_LIMITS allow; the rest is spilled, refused in aggregate. Judging nothing here is what lets a
   * run hand over under a flood that never pauses.
   */
  handOverUnjudged(into: HandedOver[]): void {
    const trips = this.trips.splice(0).map((payload) => ({ message: 'breakerTripped' as const, payload }));
    const checks = this.awaitingCheck.take(() => true);
    for (const item of [...trips, ...checks, ...this.handOver(Number.POSITIVE_INFINITY)]) {
      const chars = (JSON.stringify(item) ?? '').length;
      if (into.length < HAND_OVER_LIMITS.items && this.handedChars + chars <= HAND_OVER_LIMITS.chars) {
        into.push(item);
        this.handedChars += chars;
        continue;
      }
      const spilled = this.spilled;
      spilled.count += 1;
      spilled.kinds[item.message] = (spilled.kinds[item.message] ?? 0) + 1;
      if (spilled.samples.length < 5) spilled.samples.push(storablePayload(item.payload ?? null, 200));
    }
  }

  /** What the last run handed over, queued as if it had just arrived, and what it refused in aggregate. */
  receive(items: readonly HandedOver[], spilled?: Spilled): void {
    for (const item of items)
      if (item.problem !== undefined) this.inbox.refuse(item.message, item.payload, item.problem);
      else if (item.message === 'breakerTripped') this.trips.push(item.payload as BreakerTrippedPayload);
      else this.awaitingCheck.post({ message: item.message, payload: item.payload });
    if (spilled !== undefined) this.spilled = spilled;
  }

  /** Why a decision cannot count now (the proposal moved on, or the rules refuse it), or null. */
  problemOf(message: Message, payload: unknown): string | null {
    return problemOf(this.terms, this.view, message, payload);
  }

  /** Signals never throw: a refusal is audited and the proposal carries on. */
  bySignal(message: Message): (payload: unknown) => void {
    return (payload: unknown) => {
      const problem = this.since.verifiesApprovers ? this.problemOf(message, payload) : this.apply(message, payload);
      if (problem !== null) this.inbox.refuse(message, payload ?? null, problem);
      else if (this.since.verifiesApprovers) this.awaitingCheck.post({ message, payload });
    };
  }

  /** An update's validator: the same rules, with the reason handed back to the caller. */
  validate(message: Message): (payload: unknown) => void {
    return (payload: unknown) => {
      const problem = this.problemOf(message, payload);
      if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
    };
  }

  /** An update's handler: answers the proposal once the decision counts, or the reason it was refused. */
  byUpdate(message: Message): (payload: unknown) => Promise<ProposalView> {
    return async (payload: unknown): Promise<ProposalView> => {
      if (!this.since.verifiesApprovers) {
        this.apply(message, payload);
        return this.view;
      }
      const problem = await this.awaitingCheck.ask({ message, payload });
      if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
      return this.view;
    };
  }

  /**
   * A revert_to_l3 breaker trip during the validation period. Since breaker-trip-checked, the payload is
   * parsed (what it carries is saved with the proposal: an unbounded or NUL-bearing one would stall every
   * later save) and waits for Warden's breaker event to confirm it (see settle): a trip anyone could forge
   * would end the validation while the widened phase stays. A malformed or unconfirmed one is audited and dropped.
   */
  breakerTripped(payload: unknown, checked: boolean): void {
    if (!checked) {
      const trip = payload as { rule?: unknown; detail?: unknown } | undefined;
      if (this.view.status === 'validating' && typeof trip?.rule === 'string')
        this.view.revertedBy = `${trip.rule}: ${String(trip.detail ?? '')}`;
      return;
    }
    const parsed = BreakerTrippedPayloadSchema.safeParse(payload);
    if (!parsed.success) return this.inbox.refuse('breakerTripped', payload ?? null, describeIssues(parsed.error));
    this.trips.push(parsed.data);
  }

  /**
   * Approver checks, then audits of refusals, then the proposal saved once per change: always in this
   * order. Checks and audits pause once `stop` holds (the run is handing over); saves never do.
   */
  async settle(stop?: () => boolean): Promise<void> {
    if (this.spilled.count > 0 && !stop?.()) await this.auditSpill();
    await this.checkApprovers(stop);
    await this.confirmTrips(stop);
    await this.inbox.auditRefusals(() => void (this.view.rejectedMessages += 1), stop);
    while (this.changes.length > 0) await this.save(this.changes.shift()!);
  }

  /**
   * At a hand-over (since proposal-hands-over-unjudged): answers the updates whose callers wait in this run,
   * then saves; decisions signalled meanwhile stay queued for handOverUnjudged.
   */
  async answerOwed(): Promise<void> {
    await this.awaitingCheck.drain(
      ({ message, payload }) => this.judge(message, payload),
      (_, awaited) => awaited.indexOf(true),
      () => !this.awaitingCheck.has((_, awaited) => awaited),
    );
    while (this.changes.length > 0) await this.save(this.changes.shift()!);
  }

  /** Whether close() first judges what is still queued (since proposal-decision-first; see judgeDecisions). */
  settleBeforeClose = false;

  /** Saves the proposal's end, and answers it once every handler has finished. */
  async close(actor: string, event: ProposalEvent): Promise<ProposalView> {
    if (this.settleBeforeClose) await this.settle();
    await this.save({ actor, event });
    await condition(allHandlersFinished);
    return this.view;
  }

  /** Saves the proposal as it stands with one event, shown first in the Web UI (status, roles still missing). */
  async save(change: Change): Promise<void> {
    const v = this.view;
    const ended = !['pending', 'validating'].includes(v.status);
    this.visibility.show(
      {
        stage: v.status,
        awaitingApproval: v.status === 'pending' ? v.missingRoles : null,
        ...(ended ? { outcome: v.status } : {}),
      },
      v.status === 'pending'
        ? `Expansion ${v.fromPhase}→${v.targetPhase} waits for approval by ${v.missingRoles.join(', ') || 'nobody'} until ${v.expiresAt}`
        : v.status === 'validating'
          ? `Expansion to ${v.targetPhase} applied; validating until ${v.validationEndsAt ?? 'its period ends'}`
          : `Expansion ${v.fromPhase}→${v.targetPhase}: ${v.status}${v.endReason ? ` (${v.endReason})` : ''}`,
    );
    await this.autonomy.saveProposal({ view: v, ...change });
  }

  private apply(message: Message, payload: unknown): string | null {
    return applyDecision(this.terms, this.view, this.changes, message, payload);
  }

  /** Each queued trip against Warden's breaker events: a confirmed one reverts, in the event's own words. */
  private async confirmTrips(stop?: () => boolean): Promise<void> {
    while (this.trips.length > 0 && !stop?.()) {
      const trip = this.trips.shift()!;
      const verdict = await this.autonomy.confirmBreakerRevert({
        proposalId: this.terms.proposalId,
        eventId: trip.eventId,
      });
      if (!verdict.ok) this.inbox.refuse('breakerTripped', trip, verdict.problem);
      else if (this.view.status === 'validating') this.view.revertedBy ??= `${verdict.rule}: ${verdict.detail}`;
    }
  }

  /** The spill a run handed over, audited as one event and counted with the refusals. */
  private async auditSpill(): Promise<void> {
    const { count, kinds, samples } = this.spilled;
    this.spilled = { count: 0, kinds: {}, samples: [] };
    await this.autonomy.auditRejectedMessages({
      subject: `proposal:${this.terms.proposalId}`,
      refusals: [
        {
          message: SPILLED_MESSAGE,
          payload: { count, kinds, samples },
          problem: `${count} signalled message(s) refused unjudged: the proposal was handing over to a new run with its hand-over full; send them again (an update answers)`,
          key: uuid4(),
        },
      ],
    });
    this.view.rejectedMessages += count;
  }

  /** Checks each queued approver (token and role) off the workflow, then applies the decision or refuses it. */
  private checkApprovers(stop?: () => boolean): Promise<void> {
    return this.awaitingCheck.drain(({ message, payload }) => this.judge(message, payload), undefined, stop);
  }

  /** One decision: its approver checked (token and role), then applied, or refused with the reason. */
  private async judge(message: Message, payload: unknown): Promise<string | null> {
    const claim = payload as ApproverClaim;
    // Warden's allowlist as it stands now, then the token (spent only for an approver on it).
    const listed = this.since.wardenOwned
      ? await this.autonomy.checkApprover({ role: claim.role, approver: claim.approver })
      : ({ ok: true } as const);
    const { requestedBy } = this.terms;
    const excluded =
      message === 'approve' && requestedBy !== undefined ? [{ actor: requestedBy, as: 'requested this proposal' }] : [];
    const verdict = listed.ok ? await this.inbox.verify(claim, message, excluded) : listed;
    // The proposal may have moved on while the check ran: the rules are applied again.
    const problem = verdict.ok ? this.apply(message, payload) : verdict.problem;
    if (problem !== null) this.inbox.refuse(message, redactToken(payload), problem);
    return problem;
  }
}

function openingView(terms: Terms, createdAt: Date): ProposalView {
  return {
    proposalId: terms.proposalId,
    status: 'pending',
    fromPhase: terms.fromPhase,
    targetPhase: terms.targetPhase,
    commands: terms.commands,
    validationDays: terms.validationDays,
    requiredRoles: terms.requiredRoles,
    approvals: [],
    missingRoles: [...terms.requiredRoles],
    rejection: null,
    rejectedMessages: 0,
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + terms.expiresInDays * DAY_MS).toISOString(),
    validationEndsAt: null,
    revertedBy: null,
    ...(terms.requestedBy !== undefined ? { requestedBy: terms.requestedBy } : {}),
  };
}

function problemOf(terms: Terms, view: ProposalView, message: Message, payload: unknown): string | null {
  if (view.status !== 'pending') return `proposal ${terms.proposalId} is ${view.status}`;
  const check = message === 'approve' ? checkApproval(terms, view.approvals, payload) : checkRejection(terms, payload);
  return check.ok ? null : check.reason;
}

/** Applies a decision that passes the rules (an approval is queued to be saved); answers why not otherwise. */
function applyDecision(
  terms: Terms,
  view: ProposalView,
  changes: Change[],
  message: Message,
  payload: unknown,
): string | null {
  const problem = problemOf(terms, view, message, payload);
  if (problem !== null) return problem;
  if (message === 'approve') {
    const p = checkApproval(terms, view.approvals, payload).payload!;
    view.approvals.push({
      role: p.role,
      approver: p.approver,
      comment: p.comment ?? null,
      at: new Date().toISOString(),
    });
    view.missingRoles = terms.requiredRoles.filter((r: ApproverRole) => !view.approvals.some((a) => a.role === r));
    changes.push({ actor: p.approver, event: 'approved' });
  } else {
    const p = checkRejection(terms, payload).payload!;
    view.rejection = { role: p.role, approver: p.approver, reason: p.reason };
    view.status = 'rejected';
  }
  return null;
}
