import { patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { StrategyGateActivities } from '../src/domain/strategy/activities';
import { parseInput } from '../src/domain/shared/errors';
import {
  type OrderApproval,
  OrderApprovalSchema,
  type PromotionInput,
  PromotionInputSchema,
  type PromotionView,
} from '../src/domain/strategy/messages';
import { ApprovalInbox, awaitDecision, screenApproval } from './lib/approval-inbox';
import { approvePromotionSignal, promotionStatusQuery, rejectPromotionSignal } from './messages';

const { promoteStrategy, verifyApproval } = proxyActivities<StrategyGateActivities & ApprovalActivities>({
  startToCloseTimeout: '30 seconds',
});

/**
 * Seed 001's slow promotion: the evidence raised it; an operator on the
 * approver allowlist approves (or rejects) it before it expires. One level.
 * Refusals are kept on the view (`refused`), not audited.
 */
export async function strategyPromotion(rawInput: PromotionInput): Promise<PromotionView> {
  const input = parseInput(PromotionInputSchema, rawInput, 'strategyPromotion input');
  const view: PromotionView = {
    strategyId: input.strategyId,
    from: input.from,
    to: input.to,
    status: 'pending',
    decidedBy: null,
    refused: [],
  };
  let decision: { approve: boolean; approver: string; role: string } | undefined;
  // Since signed approvals: a decision waits for the worker's check of its approver (and token) before it counts.
  const verifiesApprovers = patched('signed-approvals');
  const inbox = new ApprovalInbox({ verifyApproval });
  const unchecked: { approve: boolean; approval: OrderApproval }[] = [];
  const decide = (approve: boolean) => (payload: unknown) => {
    const screened = screenApproval(OrderApprovalSchema, payload, input.approvers);
    if (!screened.ok) return void view.refused.push(screened.problem);
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

  // Waits first and gives up at the deadline without judging again, as recorded histories do.
  await awaitDecision({
    deadline: new Date().getTime() + input.expiresInDays * 86_400_000,
    decided: () => decision !== undefined,
    wake: () => decision !== undefined || unchecked.length > 0,
    drain: async () => {
      while (decision === undefined && unchecked.length > 0) {
        const { approve, approval } = unchecked.shift()!;
        const verdict = await inbox.verify(approval, `promotion:${input.strategyId}:${input.to}`);
        if (verdict.ok) decision = { approve, approver: approval.approver, role: approval.role };
        else view.refused.push(verdict.problem);
      }
    },
  });
  if (decision === undefined) {
    view.status = 'expired';
    return view;
  }
  view.decidedBy = decision.approver;
  if (!decision.approve) {
    view.status = 'rejected';
    return view;
  }
  const moved = await promoteStrategy({
    strategyId: input.strategyId,
    from: input.from,
    to: input.to,
    approver: decision.approver,
    role: decision.role,
  });
  view.status = moved ? 'promoted' : 'stale';
  return view;
}
