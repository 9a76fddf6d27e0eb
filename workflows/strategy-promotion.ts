import { condition, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ApprovalActivities } from '../activities/approvals';
import { AUTONOMY_APPROVER_ROLE } from '../src/domain/identity/roles';
import type { StrategyGateActivities } from '../activities/strategy-gate';
import { parseInput } from '../src/domain/shared/errors';
import { type OrderApproval, OrderApprovalSchema, type PromotionInput, PromotionInputSchema, type PromotionView } from '../src/domain/strategy/messages';
import { describeIssues } from '../src/domain/shared/validation';
import { approvePromotionSignal, promotionStatusQuery, rejectPromotionSignal } from './messages';

const { promoteStrategy, verifyApproval } = proxyActivities<StrategyGateActivities & ApprovalActivities>({ startToCloseTimeout: '30 seconds' });

/**
 * Seed 001's slow promotion: the evidence raised it; an operator on the
 * approver allowlist approves (or rejects) it before it expires. One level.
 */
export async function strategyPromotion(rawInput: PromotionInput): Promise<PromotionView> {
  const input = parseInput(PromotionInputSchema, rawInput, 'strategyPromotion input');
  const view: PromotionView = { strategyId: input.strategyId, from: input.from, to: input.to, status: 'pending', decidedBy: null, refused: [] };
  let decision: { approve: boolean; approver: string; role: string } | undefined;
  // Since signed approvals: a decision waits for the worker's check of its approver (and token) before it counts.
  const verifiesApprovers = patched('signed-approvals');
  const unchecked: { approve: boolean; approval: OrderApproval }[] = [];
  const decide = (approve: boolean) => (payload: unknown) => {
    const parsed = OrderApprovalSchema.safeParse(payload);
    if (!parsed.success) return void view.refused.push(describeIssues(parsed.error));
    if (!(input.approvers[parsed.data.role] ?? []).includes(parsed.data.approver)) return void view.refused.push(`${parsed.data.approver} is not on the allowlist for ${parsed.data.role}`);
    if (verifiesApprovers) unchecked.push({ approve, approval: parsed.data });
    else decision ??= { approve, approver: parsed.data.approver, role: parsed.data.role };
  };
  setHandler(approvePromotionSignal, decide(true), { description: 'Approve this promotion. {"approver": "alice", "role": "tech_lead"}' });
  setHandler(rejectPromotionSignal, decide(false), { description: 'Reject this promotion. {"approver": "alice", "role": "tech_lead"}' });
  setHandler(promotionStatusQuery, () => view);

  const expiresAt = new Date().getTime() + input.expiresInDays * 86_400_000;
  while (decision === undefined) {
    const left = expiresAt - new Date().getTime();
    if (left <= 0 || !(await condition(() => decision !== undefined || unchecked.length > 0, left))) break;
    while (decision === undefined && unchecked.length > 0) {
      const { approve, approval } = unchecked.shift()!;
      const verdict = await verifyApproval({ actor: approval.approver, role: AUTONOMY_APPROVER_ROLE[approval.role], usedFor: `promotion:${input.strategyId}:${input.to}`, ...(approval.token !== undefined ? { token: approval.token } : {}) });
      if (verdict.ok) decision = { approve, approver: approval.approver, role: approval.role };
      else view.refused.push(verdict.problem);
    }
  }
  if (decision === undefined) {
    view.status = 'expired';
    return view;
  }
  view.decidedBy = decision!.approver;
  if (!decision!.approve) {
    view.status = 'rejected';
    return view;
  }
  const moved = await promoteStrategy({ strategyId: input.strategyId, from: input.from, to: input.to, approver: decision!.approver, role: decision!.role });
  view.status = moved ? 'promoted' : 'stale';
  return view;
}
