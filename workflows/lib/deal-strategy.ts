// Seed 001's strategy gate inside a deal: the verdict, the execution mode, a
// human's approval of the order where needed, the size; and, once the deal
// executed, what its outcome teaches the strategy.
import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { DEFAULT_DEAL_MESSAGES_PER_RUN, type DealProgress, type ParsedDealInput } from '../../src/domain/deals/types';
import {
  readStrategyOutcome,
  sizeOrder,
  type StrategyGateOutcome,
  type StrategyOrder,
  type SizedOrder,
} from '../../src/domain/strategy/gate';
import { redactToken } from '../../src/domain/identity/redact';
import { OrderApprovalSchema } from '../../src/domain/strategy/messages';
import { promotionWorkflowId, STRATEGY_PROMOTION_WORKFLOW_TYPE } from '../names';
// By type, not imported: a deal never evaluates the promotion workflow's module (workflows/index.ts).
import type { strategyPromotion } from '../strategy-promotion';
import { type ApprovalInbox, awaitDecision, screenApproval } from './approval-inbox';
import { gates, now } from './deal-gates';
import type { Patches } from './patches';
import type { Visibility } from './visibility';

/**
 * Since this generation (only: never asked of older runs) a run whose order waits for its approval
 * hands over to a new run after its message budget, or when the server suggests it: a flood of refused
 * approvals grew one run's history to the server's limit, and the server terminated the deal.
 */
export const ORDER_WAIT_ROLLS_OVER = 'order-wait-rolls-over';

/** An order waiting for its approval, as a run hands it to the next: the gate's verdict and the deadline. */
export interface OrderWait {
  gate: Extract<StrategyGateOutcome, { enabled: true }>;
  /** Workflow time (epoch ms) after which no approval counts: the first run's. */
  deadline: number;
}

/** Hands the deal to a new run while its order waits (it never returns). */
export type OrderHandOver = (wait: OrderWait) => Promise<never>;

/** The size a deal goes ahead with, whether it only trades on paper, and whether the strategy gate governs it. */
export interface Sizing {
  amount: number;
  paper: boolean;
  governed: boolean;
}
export type StrategyVerdict =
  { outcome: 'denied'; reason: string; detail: string } | { outcome: 'shadow' } | { outcome: 'pass'; sizing: Sizing };

/** The order the strategy gate judges for this deal (in admission, or in the deal's own step). */
export function strategyOrderOf(input: ParsedDealInput, strategyId: string, at: string): StrategyOrder {
  return {
    traceId: `deal:${input.dealId}`,
    strategyId,
    symbol: input.symbol,
    side: input.side,
    position: input.position,
    notional: input.amount,
    impact: input.impact ?? {},
    tokenId: input.executionTokenId,
    at,
  };
}

/**
 * Seed 001's strategy gate: the verdict, the execution mode, a human's approval where needed, the size.
 * `evaluated`: the gate's outcome where admission already asked it.
 */
export async function strategyVerdict(
  input: ParsedDealInput,
  strategyId: string,
  progress: DealProgress,
  inbox: ApprovalInbox,
  required: boolean,
  visibility: Visibility,
  patches: Patches,
  handOver: OrderHandOver,
  resumed?: OrderWait,
  evaluated?: StrategyGateOutcome,
): Promise<StrategyVerdict> {
  if (resumed)
    return orderApproved(
      input,
      strategyId,
      progress,
      inbox,
      visibility,
      patches,
      handOver,
      resumed.gate,
      resumed.deadline,
    );
  progress.stage = 'strategy';
  const gate = evaluated ?? (await gates.evaluateStrategyGate(strategyOrderOf(input, strategyId, now())));
  const reading = readStrategyOutcome(gate, strategyId, input.amount, required);
  if (reading.next === 'denied') return { outcome: 'denied', reason: reading.reason, detail: reading.detail };
  if (reading.next === 'shadow') {
    progress.gates.push({ gate: 'strategy', ok: true, reason: 'shadow' });
    return { outcome: 'shadow' };
  }
  if (reading.next === 'approval')
    return orderApproved(input, strategyId, progress, inbox, visibility, patches, handOver, reading.gate);
  return passed(progress, reading);
}

/**
 * The order waits for its approval, then is sized. The run that begins the wait announces it and sets
 * its deadline; a run it hands over to (`resumedDeadline`) keeps both.
 */
async function orderApproved(
  input: ParsedDealInput,
  strategyId: string,
  progress: DealProgress,
  inbox: ApprovalInbox,
  visibility: Visibility,
  patches: Patches,
  handOver: OrderHandOver,
  gate: OrderWait['gate'],
  resumedDeadline?: number,
): Promise<StrategyVerdict> {
  progress.stage = 'awaiting_order_approval';
  // Roles with someone on the allowlist: a role nobody holds approves nothing.
  const roles = Object.entries(gate.approvers)
    .filter(([, names]) => names.length > 0)
    .map(([role]) => role);
  const until = new Date(
    resumedDeadline ?? new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000,
  ).toISOString();
  const what = `Order of deal ${input.dealId} (${input.side} ${input.amount} ${input.symbol}, strategy ${strategyId})`;
  visibility.show(
    { stage: 'awaiting_order_approval', awaitingApproval: roles },
    `${what} waits for approveOrder from ${roles.join(' or ') || 'an approver'} until ${until}`,
  );
  if (resumedDeadline === undefined && visibility.announces)
    await gates.announceApprovalWaiting({
      key: `deal:${input.dealId}:order-approval-waiting`,
      subject: `deal:${input.dealId}`,
      what,
      roles,
      deadline: until,
      requestedBy: input.requestedBy,
    });
  const rollsOver = patches.covers(ORDER_WAIT_ROLLS_OVER);
  const due = () =>
    rollsOver &&
    (inbox.receivedInRun >= (input.messagesPerRun ?? DEFAULT_DEAL_MESSAGES_PER_RUN) ||
      workflowInfo().continueAsNewSuggested);
  // Set once announced, as recorded histories have it.
  const wait = { gate, deadline: resumedDeadline ?? new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000 };
  const approved = await awaitOrderApproval(input, inbox, wait, patches, () => (due() ? handOver(wait) : undefined));
  visibility.show(
    { stage: 'strategy', awaitingApproval: null },
    approved ? 'Order approved' : 'Order not approved in time',
  );
  if (!approved)
    return {
      outcome: 'denied',
      reason: 'approval_timeout',
      detail: `no approveOrder within ${input.orderApprovalTimeoutSeconds} s`,
    };
  return passed(progress, sizeOrder(gate, input.amount));
}

/** The deal goes on as the gate's reading says: a size it governed is the strategy gate's pass. */
function passed(progress: DealProgress, reading: SizedOrder): StrategyVerdict {
  if (reading.next === 'denied') return { outcome: 'denied', reason: reading.reason, detail: reading.detail };
  const { amount, paper, governed } = reading;
  progress.gates.push(...strategyPassed(reading));
  return { outcome: 'pass', sizing: { amount, paper, governed } };
}

/** The strategy gate's line in the deal's progress for an order that goes on: none where it did not govern the size. */
export function strategyPassed(reading: Extract<SizedOrder, { next: 'go' }>): DealProgress['gates'] {
  if (!reading.governed) return [];
  return [
    {
      gate: 'strategy',
      ok: true,
      ...(reading.reducedTo !== undefined ? { reason: `reduced to ${reading.reducedTo}` } : {}),
    },
  ];
}

/**
 * Waits for an `approveOrder` until the order's deadline. Each approval is
 * judged as it is taken, and a refusal audited (without the token) before the
 * next one, as recorded histories have it. Once nothing received is left to
 * judge, `rollOver` may hand the deal to a new run.
 */
async function awaitOrderApproval(
  input: ParsedDealInput,
  inbox: ApprovalInbox,
  { gate: { approvers }, deadline }: OrderWait,
  patches: Patches,
  rollOver: () => Promise<never> | undefined,
): Promise<boolean> {
  const approvedBy = async (): Promise<boolean> => {
    for (;;) {
      const received = inbox.next();
      // A signal without a payload ends the round unjudged and unaudited, as it always has.
      if (received === undefined || received.payload === undefined) return false;
      const screened = screenApproval(OrderApprovalSchema, received.payload, approvers);
      let problem = screened.ok ? null : screened.problem;
      // Since signed approvals: the approver (and token, if any) must also pass the worker's check.
      if (screened.ok && patches.has('signed-approvals')) {
        const verdict = await inbox.verify(screened.approval, 'approve', [
          { actor: input.requestedBy, as: 'requested this deal' },
        ]);
        if (!verdict.ok) problem = verdict.problem;
      }
      if (problem === null) return true;
      inbox.refuse(received.message, redactToken(received.payload) ?? null, problem);
      await inbox.auditRefusals();
    }
  };
  let approved = false;
  return awaitDecision({
    deadline,
    decided: () => approved,
    wake: () => inbox.waiting > 0,
    drain: async () => {
      approved = await approvedBy();
      if (!approved && inbox.waiting === 0) await rollOver();
    },
    drainFirst: true,
    drainOnTimeout: true,
  });
}

/** Outcomes feed the strategy's health and maturity: a demotion is immediate, a promotion is proposed to an operator. */
export async function learnFromOutcome(strategyId: string, dealId: string, pnl: number, at: string): Promise<void> {
  const effects = await gates.recordStrategyOutcome({ strategyId, dealId, pnl, at });
  if (!effects.promotion) return;
  try {
    await startChild<typeof strategyPromotion>(STRATEGY_PROMOTION_WORKFLOW_TYPE, {
      workflowId: promotionWorkflowId(strategyId, effects.promotion.to),
      args: [effects.promotion],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (error) {
    // Already proposed by an earlier deal: one proposal per level.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
