import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProposalActivities } from '../src/domain/autonomy/activities';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { PromotionActivities, StrategyGateActivities } from '../src/domain/strategy/activities';
import { parseInput } from '../src/domain/shared/errors';
import {
  type OrderApproval,
  OrderApprovalSchema,
  type PromotionInput,
  PromotionInputSchema,
  type PromotionView,
} from '../src/domain/strategy/messages';
import { describeIssues, storableText } from '../src/domain/shared/validation';
import { APPROVER_ROLES } from '../src/domain/autonomy/phases';
import { ApprovalInbox, awaitDecision, type Screened, screenApproval } from './lib/approval-inbox';
import { splitCarried } from './lib/continued';
import { Visibility } from './lib/visibility';
import { approvePromotionSignal, promotionStatusQuery, rejectPromotionSignal } from './messages';

const { promoteStrategy, verifyApproval, announceApprovalWaiting, loadPromotion, closePromotion, checkApprover } =
  proxyActivities<
    StrategyGateActivities & ApprovalActivities & PromotionActivities & Pick<ProposalActivities, 'checkApprover'>
  >({
    startToCloseTimeout: '30 seconds',
  });

/** What a promotion runs on: the start payload (histories from before Warden-owned proposals) or Warden's record. */
interface Terms {
  strategyId: string;
  from: PromotionView['from'];
  to: PromotionView['to'];
  expiresInDays: number;
  /** Only on the payload path: the allowlist it brought. Warden's record has none: the approver table decides. */
  approvers?: Record<string, string[]>;
  requestedBy?: string;
}

/**
 * Since this patch a promotion hands over to a new run after its message budget, or when the server
 * suggests it: a flood of refused approvals grew one run's history to the server's limit, and the
 * server terminated the promotion.
 */
const PROMOTION_ROLLS_OVER = 'promotion-rolls-over';
export const DEFAULT_PROMOTION_MESSAGES_PER_RUN = 500;
/** Refusals the view keeps, newest last: a flood must not grow what a run carries to the next. */
const KEPT_REFUSALS = 50;
/** Approvals not yet checked that a run hands over (a run's input stays far below the server's blob limit). */
const MAX_HANDED_OVER = 100;

type Unchecked = { approve: boolean; approval: OrderApproval };
/** What a run continued as new carries: the promotion as the last run left it. */
interface CarriedPromotion {
  terms: Terms;
  view: PromotionView;
  /** Workflow time (epoch ms) after which no decision counts: the first run's. */
  deadline: number;
  since: { wardenOwned: boolean; verifiesApprovers: boolean };
  unchecked: Unchecked[];
}
/** The start payload (with a run's message budget), or what a run continued as new carries. */
export type PromotionRun =
  (PromotionInput & { messagesPerRun?: number }) | { carried: CarriedPromotion; messagesPerRun?: number };

/**
 * Seed 001's slow promotion: the evidence raised it; an operator on the
 * approver allowlist approves (or rejects) it before it expires. One level.
 * Refusals are kept on the view (`refused`), not audited.
 *
 * Since Warden-owned proposals the terms are Warden's promotion record for
 * this workflow id (the payload is ignored: no record, refused at once and
 * audited), approvers are checked against Warden's approver table when
 * judged, and the level moves only from where it started (else `stale`).
 */
export async function strategyPromotion(rawRun: PromotionRun): Promise<PromotionView> {
  const { carried, messagesPerRun, rawInput } = splitRun(rawRun);
  const wardenOwned = carried?.since.wardenOwned ?? patched('warden-owned-proposals');
  const rolls = carried !== undefined || patched(PROMOTION_ROLLS_OVER);
  const visibility = new Visibility().decide();
  const ended = (view: PromotionView): PromotionView => {
    visibility.show(
      { stage: 'done', outcome: view.status, awaitingApproval: null },
      `Promotion ${view.strategyId} ${view.from}→${view.to}: ${view.status}${view.endReason ? ` (${view.endReason})` : ''}`,
    );
    return view;
  };
  let input: Terms;
  if (carried) input = carried.terms;
  else if (wardenOwned) {
    const { workflowId, runId } = workflowInfo();
    const loaded = await loadPromotion({ proposalId: workflowId, runId, claimed: rawInput ?? null });
    if (!loaded.found) return ended(refusedView(rawInput, loaded.reason));
    input = loaded.terms;
  } else input = parseInput(PromotionInputSchema, rawInput, 'strategyPromotion input');
  const view: PromotionView = carried?.view ?? {
    strategyId: input.strategyId,
    from: input.from,
    to: input.to,
    status: 'pending',
    decidedBy: null,
    refused: [],
    ...(rolls ? { rejectedMessages: 0 } : {}),
  };
  const refuse = (problem: string) => {
    view.refused = [...view.refused, storableText(problem)].slice(-KEPT_REFUSALS);
    if (view.rejectedMessages !== undefined) view.rejectedMessages += 1;
  };
  let decision: { approve: boolean; approver: string; role: string } | undefined;
  // Since signed approvals: a decision waits for the worker's check of its approver (and token) before it counts.
  const verifiesApprovers = carried?.since.verifiesApprovers ?? patched('signed-approvals');
  const inbox = new ApprovalInbox({ verifyApproval });
  const unchecked: Unchecked[] = [...(carried?.unchecked ?? [])];
  let messages = 0;
  const decide = (approve: boolean) => (payload: unknown) => {
    messages += 1;
    // Warden's record carries no allowlist: the payload is only parsed here and the approver table decides below.
    const screened = input.approvers
      ? screenApproval(OrderApprovalSchema, payload, input.approvers)
      : parseApproval(payload);
    if (!screened.ok) return refuse(screened.problem);
    if (input.requestedBy !== undefined && screened.approval.approver === input.requestedBy)
      return refuse(`${input.requestedBy} requested this promotion; approval must come from someone else`);
    if (verifiesApprovers) unchecked.push({ approve, approval: screened.approval });
    else decision ??= { approve, approver: screened.approval.approver, role: screened.approval.role };
  };
  setHandler(approvePromotionSignal, decide(true), {
    description: 'Approve this promotion. {"approver": "alice", "role": "tech_lead"}',
  });
  setHandler(rejectPromotionSignal, decide(false), {
    description: 'Reject this promotion. {"approver": "alice", "role": "tech_lead"}',
  });
  setHandler(promotionStatusQuery, () => view);

  // Warden's record names no allowlist: whoever the approver table lists in an approver role may decide.
  const roles = input.approvers ? Object.keys(input.approvers) : [...APPROVER_ROLES];
  const deadline = carried?.deadline ?? new Date().getTime() + input.expiresInDays * 86_400_000;
  const what = `Promotion of strategy ${input.strategyId} ${input.from}→${input.to}`;
  const until = new Date(deadline).toISOString();
  visibility.show(
    { strategy: input.strategyId, stage: 'pending', awaitingApproval: roles },
    `${what} waits for approvePromotion or rejectPromotion from ${roles.join(' or ')} until ${until}`,
  );
  if (visibility.announces && carried === undefined)
    await announceApprovalWaiting({
      key: `${workflowInfo().workflowId}:${workflowInfo().runId}:approval-waiting`,
      subject: `strategy:${input.strategyId}`,
      what,
      roles,
      deadline: until,
      requestedBy: input.requestedBy ?? 'warden',
    });

  /** Hands over once every approval received is judged (a signal handler judges as it comes). */
  const handOver = async (): Promise<never> => {
    await condition(allHandlersFinished);
    return continueAsNew<typeof strategyPromotion>({
      ...(messagesPerRun !== undefined ? { messagesPerRun } : {}),
      carried: { terms: input, view, deadline, since: { wardenOwned, verifiesApprovers }, unchecked },
    });
  };
  const due = () =>
    rolls &&
    (messages >= (messagesPerRun ?? DEFAULT_PROMOTION_MESSAGES_PER_RUN) || workflowInfo().continueAsNewSuggested);

  // Waits first and gives up at the deadline without judging again, as recorded histories do.
  await awaitDecision({
    deadline,
    decided: () => decision !== undefined,
    // Refusals are judged in the signal handler: a run past its budget wakes to hand over.
    wake: () => decision !== undefined || unchecked.length > 0 || due(),
    drain: async () => {
      while (decision === undefined && unchecked.length > 0) {
        // A backlog is handed over once small enough to carry: the next run checks the rest.
        if (due() && unchecked.length <= MAX_HANDED_OVER) await handOver();
        const { approve, approval } = unchecked.shift()!;
        const listed = wardenOwned
          ? await checkApprover({ role: approval.role, approver: approval.approver })
          : ({ ok: true } as const);
        const excluded = input.requestedBy ? [{ actor: input.requestedBy, as: 'requested this promotion' }] : [];
        const verdict = listed.ok ? await inbox.verify(approval, approve ? 'approve' : 'reject', excluded) : listed;
        if (verdict.ok) decision = { approve, approver: approval.approver, role: approval.role };
        else refuse(verdict.problem);
      }
      if (decision === undefined && due()) await handOver();
    },
  });
  if (decision === undefined) {
    view.status = 'expired';
    if (wardenOwned) await closePromotion({ proposalId: workflowInfo().workflowId, status: view.status });
    return ended(view);
  }
  view.decidedBy = decision.approver;
  if (!decision.approve) {
    view.status = 'rejected';
    if (wardenOwned) await closePromotion({ proposalId: workflowInfo().workflowId, status: view.status });
    return ended(view);
  }
  const moved = await promoteStrategy({
    strategyId: input.strategyId,
    from: input.from,
    to: input.to,
    approver: decision.approver,
    role: decision.role,
    ...(wardenOwned ? { proposalId: workflowInfo().workflowId } : {}),
  });
  view.status = moved ? 'promoted' : 'stale';
  if (!moved && wardenOwned) view.endReason = `the strategy is no longer at ${input.from}; nothing applied`;
  return ended(view);
}

/** A run's message budget (10 to 5,000; else the default), from any start. */
function splitRun(rawRun: PromotionRun): {
  carried?: CarriedPromotion;
  messagesPerRun?: number;
  rawInput: PromotionInput;
} {
  const { carried, start } = splitCarried<CarriedPromotion>(rawRun);
  if (typeof start !== 'object' || start === null || !('messagesPerRun' in start))
    return { ...(carried !== undefined ? { carried } : {}), rawInput: start as PromotionInput };
  const { messagesPerRun, ...rawInput } = start as PromotionInput & { messagesPerRun?: unknown };
  const perRun =
    typeof messagesPerRun === 'number' &&
    Number.isInteger(messagesPerRun) &&
    messagesPerRun >= 10 &&
    messagesPerRun <= 5000
      ? messagesPerRun
      : undefined;
  return {
    ...(carried !== undefined ? { carried } : {}),
    ...(perRun !== undefined ? { messagesPerRun: perRun } : {}),
    rawInput: rawInput as PromotionInput,
  };
}

function parseApproval(payload: unknown): Screened<OrderApproval> {
  const parsed = OrderApprovalSchema.safeParse(payload);
  return parsed.success ? { ok: true, approval: parsed.data } : { ok: false, problem: describeIssues(parsed.error) };
}

/** The end state of a run Warden never proposed: the payload's claims are echoed, nothing else happened. */
function refusedView(raw: unknown, reason: string): PromotionView {
  const claimed = PromotionInputSchema.partial().safeParse(raw);
  const c = claimed.success ? claimed.data : {};
  return {
    strategyId: (c.strategyId ?? '').slice(0, 128),
    from: c.from ?? 'L0',
    to: c.to ?? 'L0',
    status: 'refused',
    decidedBy: null,
    refused: [],
    endReason: reason,
  };
}
