import { patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
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
import { describeIssues } from '../src/domain/shared/validation';
import { APPROVER_ROLES } from '../src/domain/autonomy/phases';
import { ApprovalInbox, awaitDecision, type Screened, screenApproval } from './lib/approval-inbox';
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
 * Seed 001's slow promotion: the evidence raised it; an operator on the
 * approver allowlist approves (or rejects) it before it expires. One level.
 * Refusals are kept on the view (`refused`), not audited.
 *
 * Since Warden-owned proposals the terms are Warden's promotion record for
 * this workflow id (the payload is ignored: no record, refused at once and
 * audited), approvers are checked against Warden's approver table when
 * judged, and the level moves only from where it started (else `stale`).
 */
export async function strategyPromotion(rawInput: PromotionInput): Promise<PromotionView> {
  const wardenOwned = patched('warden-owned-proposals');
  const visibility = new Visibility().decide();
  const ended = (view: PromotionView): PromotionView => {
    visibility.show(
      { stage: 'done', outcome: view.status, awaitingApproval: null },
      `Promotion ${view.strategyId} ${view.from}→${view.to}: ${view.status}${view.endReason ? ` (${view.endReason})` : ''}`,
    );
    return view;
  };
  let input: Terms;
  if (wardenOwned) {
    const { workflowId, runId } = workflowInfo();
    const loaded = await loadPromotion({ proposalId: workflowId, runId, claimed: rawInput ?? null });
    if (!loaded.found) return ended(refusedView(rawInput, loaded.reason));
    input = loaded.terms;
  } else input = parseInput(PromotionInputSchema, rawInput, 'strategyPromotion input');
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
    // Warden's record carries no allowlist: the payload is only parsed here and the approver table decides below.
    const screened = input.approvers
      ? screenApproval(OrderApprovalSchema, payload, input.approvers)
      : parseApproval(payload);
    if (!screened.ok) return void view.refused.push(screened.problem);
    if (input.requestedBy !== undefined && screened.approval.approver === input.requestedBy)
      return void view.refused.push(
        `${input.requestedBy} requested this promotion; approval must come from someone else`,
      );
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
  const deadline = new Date().getTime() + input.expiresInDays * 86_400_000;
  const what = `Promotion of strategy ${input.strategyId} ${input.from}→${input.to}`;
  const until = new Date(deadline).toISOString();
  visibility.show(
    { strategy: input.strategyId, stage: 'pending', awaitingApproval: roles },
    `${what} waits for approvePromotion or rejectPromotion from ${roles.join(' or ')} until ${until}`,
  );
  if (visibility.announces)
    await announceApprovalWaiting({
      key: `${workflowInfo().workflowId}:${workflowInfo().runId}:approval-waiting`,
      subject: `strategy:${input.strategyId}`,
      what,
      roles,
      deadline: until,
      requestedBy: input.requestedBy ?? 'warden',
    });

  // Waits first and gives up at the deadline without judging again, as recorded histories do.
  await awaitDecision({
    deadline,
    decided: () => decision !== undefined,
    wake: () => decision !== undefined || unchecked.length > 0,
    drain: async () => {
      while (decision === undefined && unchecked.length > 0) {
        const { approve, approval } = unchecked.shift()!;
        const listed = wardenOwned
          ? await checkApprover({ role: approval.role, approver: approval.approver })
          : ({ ok: true } as const);
        const excluded = input.requestedBy ? [{ actor: input.requestedBy, as: 'requested this promotion' }] : [];
        const verdict = listed.ok ? await inbox.verify(approval, approve ? 'approve' : 'reject', excluded) : listed;
        if (verdict.ok) decision = { approve, approver: approval.approver, role: approval.role };
        else view.refused.push(verdict.problem);
      }
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
