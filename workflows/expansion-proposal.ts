import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { AutonomyActivities } from '../src/domain/autonomy/activities';
import type { ProposalEvent } from '../src/domain/audit/kinds';
import type { ApproverRole } from '../src/domain/autonomy/phases';
import {
  checkApproval,
  checkRejection,
  type ParsedProposalTerms,
  type ProposalTerms,
  ProposalTermsSchema,
  type ProposalView,
} from '../src/domain/autonomy/proposals';
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

const autonomy = proxyActivities<AutonomyActivities & ApprovalActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute' },
});
const DAY_MS = 86_400_000;

type Message = 'approve' | 'reject';
type Change = { actor: string; event: ProposalEvent };

/**
 * Seed 002's scope-expansion proposal: collects the required approvals (or a
 * rejection) until it expires; once approved the phase widens and its
 * validation period runs; a revert_to_l3 breaker trip in that period ends it
 * as reverted, otherwise it is validated.
 */
export async function expansionProposal(rawTerms: ProposalTerms): Promise<ProposalView> {
  const terms = parseInput(ProposalTermsSchema, rawTerms, 'expansionProposal input');
  const createdAt = new Date();
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
  setHandler(breakerTrippedSignal, (payload) => {
    if (view.status === 'validating' && typeof payload?.rule === 'string')
      view.revertedBy = `${payload.rule}: ${String(payload.detail ?? '')}`;
  });
  setHandler(proposalStatusQuery, () => view, { description: 'Status, approvals and what is still missing.' });

  /** Checks each queued approver (token and role) off the workflow, then applies the decision or refuses it. */
  const checkApprovers = () =>
    awaitingCheck.drain(async ({ message, payload }) => {
      const verdict = await inbox.verify(payload as ApproverClaim, `proposal:${terms.proposalId}:${message}`);
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

  await autonomy.saveProposal({ view, actor: 'governance-cycle', event: 'created' });
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
  await autonomy.applyPhase({
    proposalId: terms.proposalId,
    targetPhase: terms.targetPhase,
    at: appliedAt.toISOString(),
  });
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

function openingView(terms: ParsedProposalTerms, createdAt: Date): ProposalView {
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
  };
}

/** Why a decision cannot count now (the proposal moved on, or the rules refuse it), or null. */
function problemOf(terms: ParsedProposalTerms, view: ProposalView, message: Message, payload: unknown): string | null {
  if (view.status !== 'pending') return `proposal ${terms.proposalId} is ${view.status}`;
  const check = message === 'approve' ? checkApproval(terms, view.approvals, payload) : checkRejection(terms, payload);
  return check.ok ? null : check.reason;
}

/** Applies a decision that passes the rules (an approval is queued to be saved); answers why not otherwise. */
function applyDecision(
  terms: ParsedProposalTerms,
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
