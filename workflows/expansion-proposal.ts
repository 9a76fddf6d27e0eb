import { allHandlersFinished, ApplicationFailure, condition, patched, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { ApprovalActivities } from '../activities/approvals';
import type { AutonomyActivities } from '../activities/autonomy';
import type { ApproverRole } from '../src/domain/autonomy/phases';
import { checkApproval, checkRejection, type ProposalTerms, ProposalTermsSchema, type ProposalView } from '../src/domain/autonomy/proposals';
import { parseInput } from '../src/domain/shared/errors';
import { redactToken } from '../src/domain/identity/redact';
import { AUTONOMY_APPROVER_ROLE } from '../src/domain/identity/roles';
import { approveSignal, approveUpdate, breakerTrippedSignal, proposalStatusQuery, rejectSignal, rejectUpdate } from './messages';

const autonomy = proxyActivities<AutonomyActivities & ApprovalActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumInterval: '1 minute' } });
const DAY_MS = 86_400_000;

/**
 * Seed 002's scope-expansion proposal: collects the required approvals (or a
 * rejection) until it expires; once approved the phase widens and its
 * validation period runs; a revert_to_l3 breaker trip in that period ends it
 * as reverted, otherwise it is validated.
 */
export async function expansionProposal(rawTerms: ProposalTerms): Promise<ProposalView> {
  const terms = parseInput(ProposalTermsSchema, rawTerms, 'expansionProposal input');
  const createdAt = new Date();
  const view: ProposalView = {
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
  const refused: { message: string; payload: unknown; problem: string }[] = [];
  const changes: { actor: string; event: string }[] = [];
  // Since signed approvals: each decision's approver (and token, if any) is
  // checked by an activity before it counts; the worker holds the signing key.
  const verifiesApprovers = patched('signed-approvals');
  type Decision = { id: string; message: 'approve' | 'reject'; payload: unknown };
  const awaitingCheck: Decision[] = [];
  const decided = new Map<string, string | null>();

  const approvalProblem = (payload: unknown): string | null => {
    if (view.status !== 'pending') return `proposal ${terms.proposalId} is ${view.status}`;
    const check = checkApproval(terms, view.approvals, payload);
    return check.ok ? null : check.reason;
  };
  const rejectionProblem = (payload: unknown): string | null => {
    if (view.status !== 'pending') return `proposal ${terms.proposalId} is ${view.status}`;
    const check = checkRejection(terms, payload);
    return check.ok ? null : check.reason;
  };
  const approve = (payload: unknown): string | null => {
    const problem = approvalProblem(payload);
    if (problem !== null) return problem;
    const p = checkApproval(terms, view.approvals, payload).payload!;
    view.approvals.push({ role: p.role, approver: p.approver, comment: p.comment ?? null, at: new Date().toISOString() });
    view.missingRoles = terms.requiredRoles.filter((r: ApproverRole) => !view.approvals.some((a) => a.role === r));
    changes.push({ actor: p.approver, event: 'approved' });
    return null;
  };
  const reject = (payload: unknown): string | null => {
    const problem = rejectionProblem(payload);
    if (problem !== null) return problem;
    const p = checkRejection(terms, payload).payload!;
    view.rejection = { role: p.role, approver: p.approver, reason: p.reason };
    view.status = 'rejected';
    return null;
  };
  const applyDecision = (message: 'approve' | 'reject', payload: unknown) => (message === 'approve' ? approve(payload) : reject(payload));
  const problemOf = (message: 'approve' | 'reject', payload: unknown) => (message === 'approve' ? approvalProblem(payload) : rejectionProblem(payload));
  /** Queues a well-formed decision for its approver check; the answer is recorded under its id. */
  const submit = (message: 'approve' | 'reject', payload: unknown): string => {
    const id = uuid4();
    awaitingCheck.push({ id, message, payload });
    return id;
  };
  // Signals never throw: a refusal is audited and the proposal carries on.
  const bySignal = (message: 'approve' | 'reject') => (payload: unknown) => {
    if (verifiesApprovers) {
      const problem = problemOf(message, payload);
      if (problem !== null) refused.push({ message, payload: payload ?? null, problem });
      else submit(message, payload);
      return;
    }
    const problem = applyDecision(message, payload);
    if (problem !== null) refused.push({ message, payload: payload ?? null, problem });
  };
  setHandler(approveSignal, bySignal('approve'), { description: 'Approve. {"role": "tech_lead", "approver": "alice", "comment": "…", "token": "wat1… (when signed approvals are on)"}' });
  setHandler(rejectSignal, bySignal('reject'), { description: 'Reject. {"role": "tech_lead", "approver": "alice", "reason": "…", "token": "wat1… (when signed approvals are on)"}' });
  // Updates: the validator runs the same rules and hands the reason back to the caller.
  const validate = (problemOf: (payload: unknown) => string | null) => (payload: unknown) => {
    const problem = problemOf(payload);
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, 'ApprovalRefused');
  };
  const byUpdate = (message: 'approve' | 'reject') => async (payload: unknown): Promise<ProposalView> => {
    if (!verifiesApprovers) {
      applyDecision(message, payload);
      return view;
    }
    const id = submit(message, payload);
    await condition(() => decided.has(id));
    const problem = decided.get(id)!;
    decided.delete(id);
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, 'ApprovalRefused');
    return view;
  };
  setHandler(approveUpdate, byUpdate('approve'), {
    validator: validate(approvalProblem),
    description: 'Approve, and get the proposal back (or the reason it was refused).',
  });
  setHandler(rejectUpdate, byUpdate('reject'), {
    validator: validate(rejectionProblem),
    description: 'Reject, and get the proposal back (or the reason it was refused).',
  });
  setHandler(breakerTrippedSignal, (payload) => {
    if (view.status === 'validating' && typeof payload?.rule === 'string') view.revertedBy = `${payload.rule}: ${String(payload.detail ?? '')}`;
  });
  setHandler(proposalStatusQuery, () => view, { description: 'Status, approvals and what is still missing.' });

  /** Checks each queued approver (token and role) off the workflow, then applies the decision or refuses it. */
  const checkApprovers = async () => {
    while (awaitingCheck.length > 0) {
      const d = awaitingCheck.shift()!;
      const payload = d.payload as { role: keyof typeof AUTONOMY_APPROVER_ROLE; approver: string; token?: string };
      const verdict = await autonomy.verifyApproval({
        actor: payload.approver,
        role: AUTONOMY_APPROVER_ROLE[payload.role],
        usedFor: `proposal:${terms.proposalId}:${d.message}`,
        ...(payload.token !== undefined ? { token: payload.token } : {}),
      });
      // The proposal may have moved on while the check ran: the rules are applied again.
      const problem = verdict.ok ? applyDecision(d.message, d.payload) : verdict.problem;
      if (problem !== null) refused.push({ message: d.message, payload: redactToken(d.payload), problem });
      decided.set(d.id, problem);
    }
  };
  const settle = async () => {
    await checkApprovers();
    while (refused.length > 0) {
      const r = refused.shift()!;
      view.rejectedMessages += 1;
      await autonomy.auditRejectedMessage({ subject: `proposal:${terms.proposalId}`, message: r.message, payload: r.payload, problem: r.problem, key: uuid4() });
    }
    while (changes.length > 0) await autonomy.saveProposal({ view, ...changes.shift()! });
  };

  await autonomy.saveProposal({ view, actor: 'governance-cycle', event: 'created' });
  const expiresAt = createdAt.getTime() + terms.expiresInDays * DAY_MS;
  while (view.status === 'pending' && view.missingRoles.length > 0) {
    const left = expiresAt - new Date().getTime();
    if (left <= 0) break;
    await condition(() => view.status !== 'pending' || view.missingRoles.length === 0 || refused.length > 0 || changes.length > 0 || awaitingCheck.length > 0, left);
    await settle();
  }
  await settle();
  if (view.status === 'rejected') {
    await autonomy.saveProposal({ view, actor: view.rejection!.approver, event: 'rejected' });
    await condition(allHandlersFinished);
    return view;
  }
  if (view.missingRoles.length > 0) {
    view.status = 'expired';
    await autonomy.saveProposal({ view, actor: 'autonomy', event: 'expired' });
    await condition(allHandlersFinished);
    return view;
  }

  const appliedAt = new Date();
  await autonomy.applyPhase({ proposalId: terms.proposalId, targetPhase: terms.targetPhase, at: appliedAt.toISOString() });
  view.status = 'validating';
  const validationEnds = appliedAt.getTime() + terms.validationDays * DAY_MS;
  view.validationEndsAt = new Date(validationEnds).toISOString();
  await autonomy.saveProposal({ view, actor: 'autonomy', event: 'applied' });
  for (;;) {
    const left = validationEnds - new Date().getTime();
    if (view.revertedBy !== null || left <= 0) break;
    await condition(() => view.revertedBy !== null || refused.length > 0 || awaitingCheck.length > 0, left);
    await settle();
  }
  view.status = view.revertedBy !== null ? 'reverted' : 'validated';
  if (view.status === 'validated') await autonomy.finishValidation({ proposalId: terms.proposalId });
  await autonomy.saveProposal({ view, actor: 'autonomy', event: view.status });
  await condition(allHandlersFinished);
  return view;
}
