import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Phase } from '../src/domain/autonomy/phases';
import {
  ApprovePayloadSchema,
  type ProposalStart,
  ProposalTermsSchema,
  type ProposalView,
  RejectPayloadSchema,
} from '../src/domain/autonomy/proposals';
import { describeIssues } from '../src/domain/shared/validation';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { awaitDecision } from './lib/approval-inbox';
import {
  DAY_MS,
  type HandedOver,
  type Spilled,
  type Message,
  type ProposalCalls,
  ProposalDecisions,
  type Terms,
} from './lib/proposal-decisions';
import {
  approveSignal,
  approveUpdate,
  breakerTrippedSignal,
  proposalStatusQuery,
  rejectSignal,
  rejectUpdate,
} from './messages';
import { continuedByItself } from './lib/continued';

/**
 * A proposal continues as new after this many messages in one run (or when Temporal suggests it), so
 * spam can neither outgrow its history nor use up the 10,000 signals Temporal lets one run take.
 */
export const PROPOSAL_ROLLS_OVER = 'proposal-continue-as-new';
export const DEFAULT_PROPOSAL_MESSAGES_PER_RUN = 500;

/**
 * Most signalled messages one run hands the next in histories from before PROPOSAL_HANDS_OVER_UNJUDGED
 * (each bounded), so the continue-as-new input stays small; that run judged the rest itself.
 */
export const MAX_PROPOSAL_HANDED_OVER = 128;
/**
 * Since this patch a run hands over every signalled message it has not judged (to HAND_OVER_LIMITS, the
 * rest refused in aggregate) and judges none of them: judging them kept a run under a flood that never
 * paused from ever handing over, and its history past its bound.
 */
export const PROPOSAL_HANDS_OVER_UNJUDGED = 'proposal-hands-over-unjudged';

/** What one run hands the next: the proposal as it stands, and the signals it received and did not judge. */
export interface CarriedProposal {
  terms: Terms;
  view: ProposalView;
  createdAt: string;
  since: { wardenOwned: boolean; verifiesApprovers: boolean };
  messages?: HandedOver[];
  /** Refused in aggregate at a full hand-over; the next run audits it (since PROPOSAL_HANDS_OVER_UNJUDGED). */
  spilled?: Spilled;
}

/** The start payload, plus what a run continued as new carries (`carried`) and its per-run budget. */
export type ProposalRun = ProposalStart & { carried?: CarriedProposal; messagesPerRun?: number };

/** When the current run should hand over; undefined in histories from before the rollover. */
type Full = (() => boolean) | undefined;

const autonomy = proxyActivities<ProposalCalls>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute' },
});

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
export async function expansionProposal(rawInput: ProposalRun): Promise<ProposalView> {
  const { carried, messagesPerRun, rawTerms } = splitRun(rawInput);
  let messages = 0;
  const full = () => messages >= messagesPerRun || workflowInfo().continueAsNewSuggested;
  const counted = () => void (messages += 1);
  // What a run carries counts only in a run continued as new by itself (not a cron run or a retry): a raw start
  // naming `carried` (approved terms, a validating view) is judged as the first run it is.
  if (carried !== undefined && continuedByItself()) return resume(carried, messagesPerRun, full, counted);
  const wardenOwned = patched('warden-owned-proposals');
  const rolls = patched(PROPOSAL_ROLLS_OVER);
  const roll: Full = rolls ? full : undefined;
  const loaded = await loadTerms(rawTerms, wardenOwned);
  if ('refused' in loaded) return loaded.refused;
  const { terms, early } = loaded;
  // A Warden-owned proposal dates from its start, not from when its record was read.
  const createdAt = wardenOwned ? workflowInfo().startTime : new Date();
  // Since signed approvals: each decision's approver (and token, if any) is
  // checked by an activity before it counts; the worker holds the signing key.
  const verifiesApprovers = patched('signed-approvals');
  const proposal = new ProposalDecisions(terms, createdAt, autonomy, { wardenOwned, verifiesApprovers });
  wireHandlers(proposal, early, rolls ? counted : undefined);

  await proposal.save({ actor: terms.requestedBy ?? 'governance-cycle', event: 'created' });
  return decideThenValidate(proposal, createdAt, messagesPerRun, roll);
}

/** Judging, then (once approved) the phase widened and its validation period; either may hand over to a new run. */
async function decideThenValidate(
  proposal: ProposalDecisions,
  createdAt: Date,
  messagesPerRun: number,
  roll: Full,
): Promise<ProposalView> {
  const undecided = await judgeDecisions(proposal, createdAt, roll);
  if (undecided === 'roll') return rollOver(proposal, createdAt, messagesPerRun);
  if (undecided) return undecided;
  const applied = await applyPhase(proposal);
  if ('ended' in applied) return applied.ended;
  return validate(proposal, applied.validationEnds, createdAt, messagesPerRun, roll);
}

async function validate(
  proposal: ProposalDecisions,
  validationEnds: number,
  createdAt: Date,
  messagesPerRun: number,
  roll: Full,
): Promise<ProposalView> {
  const ended = await validationPeriod(proposal, validationEnds, roll);
  return ended === 'roll' ? rollOver(proposal, createdAt, messagesPerRun) : ended;
}

/** A run continued as new: the proposal as the last run left it, judged or validated from there. */
async function resume(
  carried: CarriedProposal,
  messagesPerRun: number,
  full: () => boolean,
  counted: () => void,
): Promise<ProposalView> {
  const createdAt = new Date(carried.createdAt);
  const proposal = new ProposalDecisions(carried.terms, createdAt, autonomy, carried.since);
  Object.assign(proposal.view, carried.view);
  proposal.receive(carried.messages ?? [], carried.spilled);
  wireHandlers(proposal, undefined, counted);
  if (proposal.view.status === 'pending') return decideThenValidate(proposal, createdAt, messagesPerRun, full);
  return validate(proposal, Date.parse(proposal.view.validationEndsAt!), createdAt, messagesPerRun, full);
}

/**
 * Hands the proposal to a new run once every handler has answered and every approval is saved, with
 * the signals still unjudged: nothing in flight is lost, and a flood cannot keep the run from handing over.
 */
async function rollOver(proposal: ProposalDecisions, createdAt: Date, messagesPerRun: number): Promise<never> {
  const messages: HandedOver[] = [];
  if (patched(PROPOSAL_HANDS_OVER_UNJUDGED)) {
    for (;;) {
      proposal.handOverUnjudged(messages);
      if (proposal.owed) {
        await proposal.answerOwed();
        continue;
      }
      await condition(() => proposal.owed || proposal.signalledUnjudged || allHandlersFinished());
      if (!proposal.owed && !proposal.signalledUnjudged && allHandlersFinished()) break;
    }
    return continueAs(proposal, createdAt, messagesPerRun, messages);
  }
  for (;;) {
    // Signals not yet judged go to the next run; under sustained spam this run would never be done with them.
    messages.push(...proposal.handOver(MAX_PROPOSAL_HANDED_OVER - messages.length));
    if (proposal.unjudged || proposal.unsaved > 0) {
      await proposal.settle();
      continue;
    }
    await condition(() => proposal.unjudged || proposal.unsaved > 0 || allHandlersFinished());
    if (!proposal.unjudged && proposal.unsaved === 0 && allHandlersFinished()) break;
  }
  return continueAs(proposal, createdAt, messagesPerRun, messages);
}

/** The next run, with the proposal as it stands, what this run did not judge, and what it refused in aggregate. */
function continueAs(
  proposal: ProposalDecisions,
  createdAt: Date,
  messagesPerRun: number,
  messages: HandedOver[],
): Promise<never> {
  const spilled = proposal.spill;
  return continueAsNew<typeof expansionProposal>({
    proposalId: proposal.terms.proposalId,
    messagesPerRun,
    carried: {
      terms: proposal.terms,
      view: proposal.view,
      createdAt: createdAt.toISOString(),
      since: proposal.since,
      ...(messages.length > 0 ? { messages } : {}),
      ...(spilled !== undefined ? { spilled } : {}),
    },
  });
}

/** The start payload as the first run reads it, apart from what only a continued run carries. */
function splitRun(rawInput: ProposalRun): {
  carried?: CarriedProposal;
  messagesPerRun: number;
  rawTerms: ProposalStart;
} {
  if (typeof rawInput !== 'object' || rawInput === null || !('carried' in rawInput || 'messagesPerRun' in rawInput))
    return { messagesPerRun: DEFAULT_PROPOSAL_MESSAGES_PER_RUN, rawTerms: rawInput };
  const { carried, messagesPerRun, ...rawTerms } = rawInput;
  const perRun =
    Number.isInteger(messagesPerRun) && messagesPerRun! >= 10 && messagesPerRun! <= 5000
      ? messagesPerRun!
      : DEFAULT_PROPOSAL_MESSAGES_PER_RUN;
  return { ...(carried !== undefined ? { carried } : {}), messagesPerRun: perRun, rawTerms: rawTerms as ProposalStart };
}

type EarlyUpdates = ReturnType<typeof holdEarlyUpdates>;

/**
 * The terms: Warden's record for this workflow id (since Warden-owned proposals; updates that arrive
 * meanwhile are held), or the start payload. A run Warden never proposed ends refused.
 */
async function loadTerms(
  rawTerms: ProposalStart,
  wardenOwned: boolean,
): Promise<{ terms: Terms; early: EarlyUpdates | undefined } | { refused: ProposalView }> {
  if (!wardenOwned)
    return { terms: parseInput(ProposalTermsSchema, rawTerms, 'expansionProposal input'), early: undefined };
  // Updates that arrive while Warden's record is read wait for it (an update finding no handler is rejected).
  const early = holdEarlyUpdates();
  const { workflowId, runId } = workflowInfo();
  const loaded = await autonomy.loadProposal({ proposalId: workflowId, runId, claimed: rawTerms ?? null });
  if (!loaded.found) {
    early.refuse(`proposal ${workflowId} is refused: ${loaded.reason}`);
    await condition(allHandlersFinished);
    return { refused: refusedView(workflowId, loaded.phase, loaded.reason, new Date()) };
  }
  return { terms: loaded.terms, early };
}

/** Signals, updates (and those held while the record was read), the breaker trip and the status query. */
function wireHandlers(proposal: ProposalDecisions, early: EarlyUpdates | undefined, counted?: () => void): void {
  // Every signal and update counts towards the run's budget (histories from before the rollover count none).
  const count =
    <P, R>(handle: (payload: P) => R) =>
    (payload: P): R => {
      counted?.();
      return handle(payload);
    };
  setHandler(approveSignal, count(proposal.bySignal('approve')), {
    description:
      'Approve. {"role": "tech_lead", "approver": "alice", "comment": "…", "token": "wat1… (when signed approvals are on)"}',
  });
  setHandler(rejectSignal, count(proposal.bySignal('reject')), {
    description:
      'Reject. {"role": "tech_lead", "approver": "alice", "reason": "…", "token": "wat1… (when signed approvals are on)"}',
  });
  // Updates: the validator runs the same rules and hands the reason back to the caller.
  setHandler(approveUpdate, count(proposal.byUpdate('approve')), {
    validator: proposal.validate('approve'),
    description: 'Approve, and get the proposal back (or the reason it was refused).',
  });
  setHandler(rejectUpdate, count(proposal.byUpdate('reject')), {
    validator: proposal.validate('reject'),
    description: 'Reject, and get the proposal back (or the reason it was refused).',
  });
  // Updates held while the record was read: judged by the same rules, then handled as if just arrived.
  early?.release((message, payload) => {
    const problem = proposal.problemOf(message, payload);
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.ApprovalRefused);
    return proposal.byUpdate(message)(payload);
  });
  setHandler(
    breakerTrippedSignal,
    count((payload: unknown) => proposal.breakerTripped(payload, patched('breaker-trip-checked'))),
  );
  setHandler(proposalStatusQuery, () => proposal.view, { description: 'Status, approvals and what is still missing.' });
}

/**
 * Judges decisions until every required role approved, one rejected, or the proposal expired (it then
 * ends); or, once the run's budget is spent with time left, answers `roll` (hand over to a new run).
 */
async function judgeDecisions(
  proposal: ProposalDecisions,
  createdAt: Date,
  roll: Full,
): Promise<ProposalView | 'roll' | undefined> {
  const { terms, view } = proposal;
  const deadline = createdAt.getTime() + terms.expiresInDays * DAY_MS;
  const decided = () => view.status !== 'pending' || view.missingRoles.length === 0;
  const full = () => roll !== undefined && roll();
  // Since proposal-decision-first: once decided, the checks and audits still queued wait for the validation
  // period (or for the close, which then judges them first), so a flood of refused signals cannot hold back
  // the decision it arrived with.
  const decisionFirst = patched('proposal-decision-first');
  if (decisionFirst) proposal.settleBeforeClose = true;
  const pause = decisionFirst ? () => decided() || full() : roll && full;
  await awaitDecision({
    deadline,
    decided: () => decided() || full(),
    wake: () => decided() || full() || proposal.unjudged || proposal.unsaved > 0,
    drain: () => proposal.settle(pause),
    drainOnTimeout: true,
  });
  await proposal.settle(pause);
  if (!decided() && full() && new Date().getTime() < deadline) return 'roll';
  if (view.status === 'rejected') return proposal.close(view.rejection!.approver, 'rejected');
  if (view.missingRoles.length > 0) {
    view.status = 'expired';
    return proposal.close('autonomy', 'expired');
  }
  return undefined;
}

/** Widens the phase (since Warden-owned proposals only from the one it started from, else `stale`). */
async function applyPhase(proposal: ProposalDecisions): Promise<{ ended: ProposalView } | { validationEnds: number }> {
  const { terms, view } = proposal;
  const appliedAt = new Date();
  if (proposal.since.wardenOwned) {
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
      return { ended: await proposal.close('autonomy', 'stale') };
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
  await proposal.save({ actor: 'autonomy', event: 'applied' });
  return { validationEnds };
}

/** The validation period: a breaker trip ends it early; late decisions are still judged (and refused). */
async function validationPeriod(
  proposal: ProposalDecisions,
  validationEnds: number,
  roll: Full,
): Promise<ProposalView | 'roll'> {
  const { terms, view } = proposal;
  const full = () => roll !== undefined && roll();
  // A trip ends the period at once; what the decision left queued is judged before the run closes.
  if (patched('proposal-decision-first')) proposal.settleBeforeClose = true;
  await awaitDecision({
    deadline: validationEnds,
    decided: () => view.revertedBy !== null || full(),
    wake: () => view.revertedBy !== null || full() || proposal.unjudged,
    drain: () => proposal.settle(roll && full),
    drainOnTimeout: true,
  });
  if (view.revertedBy === null && full() && new Date().getTime() < validationEnds) return 'roll';
  view.status = view.revertedBy !== null ? 'reverted' : 'validated';
  if (view.status === 'validated') await autonomy.finishValidation({ proposalId: terms.proposalId });
  return proposal.close('autonomy', view.status);
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
