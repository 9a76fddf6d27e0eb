import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { AutonomyActivities, ProposalActivities } from '../src/domain/autonomy/activities';
import type { ProposalEvent } from '../src/domain/audit/kinds';
import type { ApproverRole, Phase } from '../src/domain/autonomy/phases';
import {
  ApprovePayloadSchema,
  checkApproval,
  checkRejection,
  type ParsedProposalTerms,
  type ProposalStart,
  ProposalTermsSchema,
  type ProposalView,
  RejectPayloadSchema,
} from '../src/domain/autonomy/proposals';
import { describeIssues } from '../src/domain/shared/validation';
import { redactToken } from '../src/domain/identity/redact';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { ApprovalInbox, type ApproverClaim, awaitDecision } from './lib/approval-inbox';
import { Mailbox } from './lib/mailbox';
import {
  approveSignal,
  approveUpdate,
  breakerTrippedSignal,
  proposalStatusQuery,
  rejectSignal,
  rejectUpdate,
} from './messages';

const autonomy = proxyActivities<AutonomyActivities & ApprovalActivities & ProposalActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute' },
});
const DAY_MS = 86_400_000;

type Message = 'approve' | 'reject';
type Change = { actor: string; event: ProposalEvent };
/**
 * The terms a proposal runs on: the start payload's (histories from before Warden-owned proposals, with
 * their own allowlist), or Warden's record (no allowlist: the approver table is read per decision).
 */
type Terms = Omit<ParsedProposalTerms, 'approvers'> & {
  approvers?: ParsedProposalTerms['approvers'];
  requestedBy?: string;
};

/**
 * Seed 002's scope-expansion proposal: collects the required approvals (or a
 * rejection) until it expires; once approved the phase widens and its
 * validation period runs; a revert_to_l3 breaker trip in that period ends it
 * as reverted, otherwise it is validated.
 *
 * Since Warden-owned proposals the terms are Warden's record for this
 * workflow id (the payload is ignored: no record, refused at once), each
 * approver is checked against Warden's approver table when judged, and the
 * phase widens only from the phase the proposal started from (else `stale`).
 */
export async function expansionProposal(rawTerms: ProposalStart): Promise<ProposalView> {
  const wardenOwned = patched('warden-owned-proposals');
  let terms: Terms;
  // Updates that arrive while Warden's record is read wait for it (an update finding no handler is rejected).
  const early = wardenOwned ? holdEarlyUpdates() : undefined;
  if (wardenOwned) {
    const { workflowId, runId } = workflowInfo();
    const loaded = await autonomy.loadProposal({ proposalId: workflowId, runId, claimed: rawTerms ?? null });
    if (!loaded.found) {
      early!.refuse(`proposal ${workflowId} is refused: ${loaded.reason}`);
      await condition(allHandlersFinished);
      return refusedView(workflowId, loaded.phase, loaded.reason, new Date());
    }
    terms = loaded.terms;
  } else terms = parseInput(ProposalTermsSchema, rawTerms, 'expansionProposal input');
  // A Warden-owned proposal dates from its start, not from when its record was read.
  const createdAt = wardenOwned ? workflowInfo().startTime : new Date();
  const view = openingView(terms, createdAt);
  const changes: Change[] = [];
  // Since signed approvals: each decision's approver (and token, if any) is
  // checked by an activity before it counts; the worker holds the signing key.
  const verifiesApprovers = patched('signed-approvals');
  const inbox = new ApprovalInbox({
    verifyApproval: autonomy.verifyApproval,
    audit: { subject: `proposal:${terms.proposalId}`, auditRejectedMessage: autonomy.auditRejectedMessage },
  });
  // Well-formed decisions wait here for their approver check; an update's caller hears the answer.
  const awaitingCheck = new Mailbox<{ message: Message; payload: unknown }, string | null>();
  const apply = (message: Message, payload: unknown) => applyDecision(terms, view, changes, message, payload);

  // Signals never throw: a refusal is audited and the proposal carries on.
  const bySignal = (message: Message) => (payload: unknown) => {
    const problem = verifiesApprovers ? problemOf(terms, view, message, payload) : apply(message, payload);
    if (problem !== null) inbox.refuse(message, payload ?? null, problem);
    else if (verifiesApprovers) awaitingCheck.post({ message, payload });
  };
  setHandler(approveSignal, bySignal('approve'), {
    description:
      'Approve. {"role": "tech_lead", "approver": "alice", "comment": "…", "token": "wat1… (when signed approvals are on)"}',
  });
  setHandler(rejectSignal, bySignal('reject'), {
    description:
      'Reject. {"role": "tech_lead", "approver": "alice", "reason": "…", "token": "wat1… (when signed approvals are on)"}',
  });
  // Updates: the validator runs the same rules and hands the reason back to the caller.
  const validate = (message: Message) => (payload: unknown) => {
    const problem = problemOf(terms, view, message, payload);
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
  };
  const byUpdate =
    (message: Message) =>
    async (payload: unknown): Promise<ProposalView> => {
      if (!verifiesApprovers) {
        apply(message, payload);
        return view;
      }
      const problem = await awaitingCheck.ask({ message, payload });
      if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
      return view;
    };
  setHandler(approveUpdate, byUpdate('approve'), {
    validator: validate('approve'),
    description: 'Approve, and get the proposal back (or the reason it was refused).',
  });
  setHandler(rejectUpdate, byUpdate('reject'), {
    validator: validate('reject'),
    description: 'Reject, and get the proposal back (or the reason it was refused).',
  });
  // Updates held while the record was read: judged by the same rules, then handled as if just arrived.
  early?.release((message, payload) => {
    const problem = problemOf(terms, view, message, payload);
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
    return byUpdate(message)(payload);
  });
  setHandler(breakerTrippedSignal, (payload) => {
    if (view.status === 'validating' && typeof payload?.rule === 'string')
      view.revertedBy = `${payload.rule}: ${String(payload.detail ?? '')}`;
  });
  setHandler(proposalStatusQuery, () => view, { description: 'Status, approvals and what is still missing.' });

  /** Checks each queued approver (token and role) off the workflow, then applies the decision or refuses it. */
  const checkApprovers = () =>
    awaitingCheck.drain(async ({ message, payload }) => {
      const claim = payload as ApproverClaim;
      // Warden's allowlist as it stands now, then the token (spent only for an approver on it).
      const listed = wardenOwned
        ? await autonomy.checkApprover({ role: claim.role, approver: claim.approver })
        : ({ ok: true } as const);
      const verdict = listed.ok ? await inbox.verify(claim, `proposal:${terms.proposalId}:${message}`) : listed;
      // The proposal may have moved on while the check ran: the rules are applied again.
      const problem = verdict.ok ? apply(message, payload) : verdict.problem;
      if (problem !== null) inbox.refuse(message, redactToken(payload), problem);
      return problem;
    });
  /** Approver checks, then audits of refusals, then the proposal saved once per change: always in this order. */
  const settle = async () => {
    await checkApprovers();
    await inbox.auditRefusals(() => void (view.rejectedMessages += 1));
    while (changes.length > 0) await autonomy.saveProposal({ view, ...changes.shift()! });
  };
  const close = async (actor: string, event: ProposalEvent) => {
    await autonomy.saveProposal({ view, actor, event });
    await condition(allHandlersFinished);
    return view;
  };

  await autonomy.saveProposal({ view, actor: terms.requestedBy ?? 'governance-cycle', event: 'created' });
  await awaitDecision({
    deadline: createdAt.getTime() + terms.expiresInDays * DAY_MS,
    decided: () => view.status !== 'pending' || view.missingRoles.length === 0,
    wake: () =>
      view.status !== 'pending' ||
      view.missingRoles.length === 0 ||
      inbox.refusing > 0 ||
      changes.length > 0 ||
      awaitingCheck.size > 0,
    drain: settle,
    drainOnTimeout: true,
  });
  await settle();
  if (view.status === 'rejected') return close(view.rejection!.approver, 'rejected');
  if (view.missingRoles.length > 0) {
    view.status = 'expired';
    return close('autonomy', 'expired');
  }

  const appliedAt = new Date();
  if (wardenOwned) {
    // Only from the phase it started from: after a breaker revert (or any other move) nothing is skipped.
    const applied = await autonomy.applyProposedPhase({
      proposalId: terms.proposalId,
      fromPhase: terms.fromPhase,
      targetPhase: terms.targetPhase,
      at: appliedAt.toISOString(),
    });
    if (!applied.applied) {
      view.status = 'stale';
      view.endReason = applied.reason;
      return close('autonomy', 'stale');
    }
  } else {
    await autonomy.applyPhase({
      proposalId: terms.proposalId,
      targetPhase: terms.targetPhase,
      at: appliedAt.toISOString(),
    });
  }
  view.status = 'validating';
  const validationEnds = appliedAt.getTime() + terms.validationDays * DAY_MS;
  view.validationEndsAt = new Date(validationEnds).toISOString();
  await autonomy.saveProposal({ view, actor: 'autonomy', event: 'applied' });
  // The validation period: a breaker trip ends it early; late decisions are still judged (and refused).
  await awaitDecision({
    deadline: validationEnds,
    decided: () => view.revertedBy !== null,
    wake: () => view.revertedBy !== null || inbox.refusing > 0 || awaitingCheck.size > 0,
    drain: settle,
    drainOnTimeout: true,
  });
  view.status = view.revertedBy !== null ? 'reverted' : 'validated';
  if (view.status === 'validated') await autonomy.finishValidation({ proposalId: terms.proposalId });
  return close('autonomy', view.status);
}

/**
 * Update handlers for the moment before Warden's record is read: a payload is only parsed (a malformed
 * one is refused at once), then waits; once the record is read it is judged and handled (`release`), or
 * refused with the proposal (`refuse`). The real handlers replace these for every later update.
 */
function holdEarlyUpdates() {
  type Handle = (message: Message, payload: unknown) => Promise<ProposalView>;
  let outcome: { refused: string } | { handle: Handle } | undefined;
  const schemaOnly = (message: Message) => (payload: unknown) => {
    const parsed = (message === 'approve' ? ApprovePayloadSchema : RejectPayloadSchema).safeParse(payload);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(describeIssues(parsed.error), ErrorType.ApprovalRefused);
  };
  const held = (message: Message) => async (payload: unknown) => {
    await condition(() => outcome !== undefined);
    if ('refused' in outcome!) throw ApplicationFailure.nonRetryable(outcome.refused, ErrorType.ApprovalRefused);
    return outcome!.handle(message, payload);
  };
  setHandler(approveUpdate, held('approve'), { validator: schemaOnly('approve') });
  setHandler(rejectUpdate, held('reject'), { validator: schemaOnly('reject') });
  return {
    refuse: (reason: string) => void (outcome = { refused: reason }),
    release: (handle: Handle) => void (outcome = { handle }),
  };
}

/** The end state of a run Warden never proposed: nothing was recorded, approved or applied. */
function refusedView(proposalId: string, phase: Phase, reason: string, at: Date): ProposalView {
  return {
    proposalId,
    status: 'refused',
    fromPhase: phase,
    targetPhase: phase,
    commands: [],
    validationDays: 0,
    requiredRoles: [],
    approvals: [],
    missingRoles: [],
    rejection: null,
    rejectedMessages: 0,
    createdAt: at.toISOString(),
    expiresAt: at.toISOString(),
    validationEndsAt: null,
    revertedBy: null,
    endReason: reason,
  };
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

/** Why a decision cannot count now (the proposal moved on, or the rules refuse it), or null. */
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
