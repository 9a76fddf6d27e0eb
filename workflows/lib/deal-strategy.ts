// Seed 001's strategy gate inside a deal: the verdict, the execution mode, a
// human's approval of the order where needed, the size; and, once the deal
// executed, what its outcome teaches the strategy.
import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { DEFAULT_ORDER_APPROVAL_MESSAGES, type DealProgress, type ParsedDealInput } from '../../src/domain/deals/types';
import { redactToken } from '../../src/domain/identity/redact';
import { OrderApprovalSchema } from '../../src/domain/strategy/messages';
import { promotionWorkflowId } from '../names';
import { strategyPromotion } from '../strategy-promotion';
import { type ApprovalInbox, awaitDecision, screenApproval } from './approval-inbox';
import { gates, now } from './deal-gates';
import type { Patches } from './patches';
import type { Visibility } from './visibility';

/**
 * Since this generation (only: never asked of older runs) an order approval's wait flooded past its
 * budget, or past the server's suggestion of a new run, ends denied.
 */
export const ORDER_WAIT_ENDS_FLOODED = 'order-wait-ends-flooded';

/** The size a deal goes ahead with, whether it only trades on paper, and whether the strategy gate governs it. */
export interface Sizing {
  amount: number;
  paper: boolean;
  governed: boolean;
}
export type StrategyVerdict =
  { outcome: 'denied'; reason: string; detail: string } | { outcome: 'shadow' } | { outcome: 'pass'; sizing: Sizing };

/** Seed 001's strategy gate: the verdict, the execution mode, a human's approval where needed, the size. */
export async function strategyVerdict(
  input: ParsedDealInput,
  strategyId: string,
  progress: DealProgress,
  inbox: ApprovalInbox,
  required: boolean,
  visibility: Visibility,
  patches: Patches,
): Promise<StrategyVerdict> {
  progress.stage = 'strategy';
  const gate = await gates.evaluateStrategyGate({
    traceId: `deal:${input.dealId}`,
    strategyId,
    symbol: input.symbol,
    side: input.side,
    position: input.position,
    notional: input.amount,
    impact: input.impact ?? {},
    tokenId: input.executionTokenId,
    at: now(),
  });
  // A strategy the engine's policy requires must still be governed here: disabled since admission is a denial.
  if (!gate.enabled && required)
    return { outcome: 'denied', reason: 'strategy_required', detail: `strategy ${strategyId} is no longer enabled` };
  if (!gate.enabled) return { outcome: 'pass', sizing: { amount: input.amount, paper: false, governed: false } };
  const d = gate.decision;
  if (d.action !== 'ALLOW' && d.action !== 'REDUCE_SIZE')
    return { outcome: 'denied', reason: d.action.toLowerCase(), detail: d.reasons.join('; ') };
  if (d.execution === 'shadow') {
    progress.gates.push({ gate: 'strategy', ok: true, reason: 'shadow' });
    return { outcome: 'shadow' };
  }
  if (d.execution === 'approval' && !d.reduceOnlyExit) {
    progress.stage = 'awaiting_order_approval';
    // Roles with someone on the allowlist: a role nobody holds approves nothing.
    const roles = Object.entries(gate.approvers)
      .filter(([, names]) => names.length > 0)
      .map(([role]) => role);
    const until = new Date(new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000).toISOString();
    const what = `Order of deal ${input.dealId} (${input.side} ${input.amount} ${input.symbol}, strategy ${strategyId})`;
    visibility.show(
      { stage: 'awaiting_order_approval', awaitingApproval: roles },
      `${what} waits for approveOrder from ${roles.join(' or ') || 'an approver'} until ${until}`,
    );
    if (visibility.announces)
      await gates.announceApprovalWaiting({
        key: `deal:${input.dealId}:order-approval-waiting`,
        subject: `deal:${input.dealId}`,
        what,
        roles,
        deadline: until,
        requestedBy: input.requestedBy,
      });
    const approval = await awaitOrderApproval(input, inbox, gate.approvers, patches);
    visibility.show(
      { stage: 'strategy', awaitingApproval: null },
      approval === 'approved'
        ? 'Order approved'
        : approval === 'flooded'
          ? 'Order wait flooded'
          : 'Order not approved in time',
    );
    if (approval === 'flooded')
      return {
        outcome: 'denied',
        reason: 'approval_flooded',
        detail: `${inbox.receivedInRun} approveOrder messages without an approval; nothing was reserved`,
      };
    if (approval === 'timeout')
      return {
        outcome: 'denied',
        reason: 'approval_timeout',
        detail: `no approveOrder within ${input.orderApprovalTimeoutSeconds} s`,
      };
  }
  const amount = Math.floor(input.amount * d.sizeMultiplier * 100) / 100;
  if (amount <= 0)
    return { outcome: 'denied', reason: 'size_reduced_to_zero', detail: `size multiplier ${d.sizeMultiplier}` };
  progress.gates.push({
    gate: 'strategy',
    ok: true,
    ...(d.action === 'REDUCE_SIZE' ? { reason: `reduced to ${amount}` } : {}),
  });
  return { outcome: 'pass', sizing: { amount, paper: d.execution === 'paper', governed: true } };
}

/**
 * Waits for an `approveOrder` until the order's timeout. Each approval is
 * judged as it is taken, and a refusal audited (without the token) before the
 * next one, as recorded histories have it. Since ORDER_WAIT_ENDS_FLOODED a wait
 * flooded past its budget, or past the server's suggestion of a new run, ends:
 * the deal holds nothing yet, so a denial loses nothing, where the server would
 * terminate a history grown to its limit.
 */
async function awaitOrderApproval(
  input: ParsedDealInput,
  inbox: ApprovalInbox,
  approvers: Record<string, string[]>,
  patches: Patches,
): Promise<'approved' | 'timeout' | 'flooded'> {
  const endsFlooded = patches.covers(ORDER_WAIT_ENDS_FLOODED);
  let flooded = false;
  const floodedNow = () =>
    endsFlooded &&
    (inbox.receivedInRun >= (input.orderApprovalMessages ?? DEFAULT_ORDER_APPROVAL_MESSAGES) ||
      workflowInfo().continueAsNewSuggested);
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
  const decided = await awaitDecision({
    deadline: new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000,
    decided: () => approved || flooded,
    wake: () => inbox.waiting > 0,
    drain: async () => {
      approved = await approvedBy();
      flooded = !approved && floodedNow();
    },
    drainFirst: true,
    drainOnTimeout: true,
  });
  return approved ? 'approved' : decided && flooded ? 'flooded' : 'timeout';
}

/** Outcomes feed the strategy's health and maturity: a demotion is immediate, a promotion is proposed to an operator. */
export async function learnFromOutcome(strategyId: string, dealId: string, pnl: number, at: string): Promise<void> {
  const effects = await gates.recordStrategyOutcome({ strategyId, dealId, pnl, at });
  if (!effects.promotion) return;
  try {
    await startChild(strategyPromotion, {
      workflowId: promotionWorkflowId(strategyId, effects.promotion.to),
      args: [effects.promotion],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (error) {
    // Already proposed by an earlier deal: one proposal per level.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
