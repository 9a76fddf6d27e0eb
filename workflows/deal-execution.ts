import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { AutonomyActivities } from '../src/domain/autonomy/activities';
import type { ControlPlaneActivities } from '../src/domain/control-plane/activities';
import type { DealActivities, DealPolicyActivities } from '../src/domain/deals/activities';
import { positionKeyOf } from '../src/domain/deals/policy';
import type { StrategyGateActivities } from '../src/domain/strategy/activities';
import {
  type DealExecutor,
  type DealInput,
  DealInputSchema,
  type DealProgress,
  type DealResult,
  type ExecuteDealResult,
  type ParsedDealInput,
} from '../src/domain/deals/types';
import { redactToken } from '../src/domain/identity/redact';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { OrderApprovalSchema } from '../src/domain/strategy/messages';
import { ApprovalInbox, awaitDecision, screenApproval } from './lib/approval-inbox';
import { runExecutor } from './lib/deal-executor';
import { DealSaga } from './lib/deal-saga';
import { approveOrderSignal, dealProgressQuery, reconcileDealUpdate } from './messages';
import { promotionWorkflowId } from './names';
import { strategyPromotion } from './strategy-promotion';

// Gate steps are short, idempotent database calls: local activities skip a
// server round-trip each, and their keys make a retry harmless.
const gates = proxyLocalActivities<
  DealActivities &
    DealPolicyActivities &
    ControlPlaneActivities &
    StrategyGateActivities &
    Pick<AutonomyActivities, 'auditRejectedMessage'> &
    ApprovalActivities
>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: [ErrorType.ReservationNotFound, ErrorType.ReservationStateError],
  },
});
const controlPlane = proxyActivities<Pick<DealActivities, 'disarmToDryRun'>>({ startToCloseTimeout: '30 seconds' });

/** Retry policy for the producer's executor; after it, the deal compensates and fails. */
export const EXECUTOR_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumAttempts: 3,
  nonRetryableErrorTypes: [ErrorType.ExecutionRejected],
};

const now = () => new Date().toISOString(); // workflow time: deterministic, and skipped in tests

/**
 * A governed deal: control plane → reserve → prod eligibility → permit →
 * control plane again → execute → settle → KPI → audit. A denial is a typed
 * result; whatever was reserved or permitted before it is released once.
 */
export async function dealExecution(rawInput: DealInput): Promise<DealResult> {
  const input = parseInput(DealInputSchema, rawInput, 'dealExecution input');
  const deal = new DealSaga(input);
  setHandler(dealProgressQuery, () => deal.progress, {
    description: 'Which gate the deal is at, what each gate said, and the result once done.',
  });
  // An update, not a signal: the operator hears at once whether the word was taken, and gets the result.
  setHandler(reconcileDealUpdate, (word) => deal.reconcile(word), {
    validator: (word) => deal.validateReconciliation(word),
    description:
      'Settle or release a deal that may have executed. {"executed": false, "actor": "alice", "reason": "no fill"}',
  });
  // Since deal-claims, the deal id is claimed first; since deal-reconciliation, ambiguity keeps the
  // reservation and waits for reconcileDeal, and a cancelled deal compensates (or reconciles).
  deal.claims = patched('deal-claims');
  deal.reconciles = patched('deal-reconciliation');
  if (!deal.reconciles) return governDeal(input, deal);
  try {
    return await governDeal(input, deal);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    return CancellationScope.nonCancellable(() => deal.afterCancel(error));
  }
}

async function governDeal(input: ParsedDealInput, deal: DealSaga): Promise<DealResult> {
  const { dealId, requestedBy: actor } = input;
  const { progress, key } = deal;
  if (deal.claims) {
    const ended = await deal.claim();
    if (ended) return ended;
  }

  // Since deal-policy, what the deal is comes from the engine's policy: the stricter of its class and
  // the producer's ask, the gates it requires, and whether anything can execute it; before any reserve.
  const policed = patched('deal-policy');
  let executionClass = input.executionClass;
  if (policed) {
    const admission = await gates.admitDeal({
      dealId,
      engine: input.engine,
      requestedClass: input.executionClass,
      strategyId: input.strategyId,
      recommendationId: input.recommendationId,
      executorTaskQueue: input.executorTaskQueue,
      ownTaskQueue: workflowInfo().taskQueue,
    });
    executionClass = admission.executionClass;
    if (!admission.admitted) return deal.deny('policy', admission.reason, admission.detail);
  }
  const entry = await gates.checkControlPlane({ executionClass });
  if (!entry.allowed) return deal.deny('control_plane', entry.reason, entry.detail);
  progress.gates.push({ gate: 'control_plane', ok: true });

  // Seed 001's order: the strategy gate after the control plane, before the risk reserve.
  let sizing: Sizing = { amount: input.amount, paper: false, governed: false };
  const inbox = new ApprovalInbox({
    verifyApproval: gates.verifyApproval,
    audit: { subject: `deal:${dealId}`, auditRejectedMessage: gates.auditRejectedMessage },
  });
  setHandler(approveOrderSignal, inbox.receiver('approve', 'approveOrder'), {
    description: 'Approve this order (L2 or CRITICAL impact). {"approver": "alice", "role": "tech_lead"}',
  });
  if (input.strategyId !== undefined && patched('strategy-gate')) {
    const verdict = await strategyStep(input, input.strategyId, progress, inbox);
    if (verdict.outcome === 'denied') return deal.deny('strategy', verdict.reason, verdict.detail);
    if (verdict.outcome === 'shadow')
      return deal.finish({ status: 'shadow', dealId, strategyId: input.strategyId, amount: input.amount });
    sizing = verdict.sizing;
  }
  const { amount, paper } = sizing;

  progress.stage = 'reserve';
  const reservation = await gates.reserveExposure({ key, engine: input.engine, amount, actor, at: now() });
  if (!reservation.ok) return deal.deny('risk', reservation.reason, reservation.detail);
  deal.reserved = true;
  progress.gates.push({ gate: 'risk', ok: true });

  if (input.recommendationId !== undefined) {
    progress.stage = 'prod_eligibility';
    const eligible = await gates.assertProdEligible({
      recommendationId: input.recommendationId,
      domain: input.domain,
      actor,
      correlationId: key,
    });
    if (!eligible.ok) return deal.deny('prod_eligibility', eligible.reason, eligible.detail);
    progress.gates.push({ gate: 'prod_eligibility', ok: true });
  }

  progress.stage = 'permit';
  const issued = await gates.issuePermit({ key, dealId, symbol: input.symbol, at: now(), actor });
  if (!issued.granted) {
    if (issued.disarm) await controlPlane.disarmToDryRun({ symbol: input.symbol, dealId, detail: issued.detail });
    return deal.deny('permit', issued.reason, issued.detail);
  }
  const permit: { id: string; consumed: boolean } = { id: issued.permitId, consumed: false };
  deal.permit = permit;
  progress.gates.push({ gate: 'permit', ok: true });

  // A kill switch engaged since the first check stops the deal here, before any side effect.
  progress.stage = 'pre_execute_check';
  const ready = await gates.authorizeExecution({
    permitId: permit.id,
    dealId,
    executionClass,
    at: now(),
    ...(deal.claims ? { run: deal.run } : {}),
  });
  if (!ready.authorized && ready.ambiguous) {
    // Another run of this deal already used the permit (a reset): it never executes again here.
    permit.consumed = true;
    deal.permitId = permit.id;
    return deal.awaitReconciliation(ready.detail);
  }
  if (!ready.authorized) return deal.deny(ready.gate, ready.reason, ready.detail);
  permit.consumed = true;
  progress.gates.push({ gate: 'pre_execute_check', ok: true });
  progress.applyMode = ready.applyMode;

  // OBSERVE_ONLY never calls an executor: authorizeExecution caps it to dry_run, and this holds it too.
  const observeOnly = policed && executionClass === 'OBSERVE_ONLY';
  if (ready.applyMode === 'dry_run' || paper || observeOnly) {
    // The whole gate path ran; nothing executes, so nothing stays reserved.
    await deal.compensate(
      paper ? 'paper: not executed' : observeOnly ? 'OBSERVE_ONLY: not executed' : 'dry_run: not executed',
    );
    if (paper) return deal.finish({ status: 'paper', dealId, strategyId: input.strategyId!, amount });
    return deal.finish({ status: 'dry_run', dealId, applyMode: 'dry_run', permitId: permit.id });
  }

  progress.stage = 'execute';
  const order = {
    dealId,
    engine: input.engine,
    symbol: input.symbol,
    amount,
    applyMode: ready.applyMode,
    permitId: permit.id,
    ...(policed ? { executionClass } : {}),
  };
  let execution: Execution;
  if (deal.reconciles) {
    deal.permitId = permit.id;
    deal.applyMode = ready.applyMode;
    if (policed) deal.settlePosition = { position: positionKeyOf(input), side: input.side };
    const outcome = await runExecutor({
      taskQueue: input.executorTaskQueue ?? workflowInfo().taskQueue,
      order,
      // The first attempt must start while the permit is valid: a late start is a provable non-execution.
      startWithinMs: new Date(issued.expiresAt).getTime() - new Date().getTime(),
      runWithinMs: (ready.executorTimeoutSeconds ?? 60) * 1000,
      mayContinue: async () => (await gates.checkControlPlane({ executionClass })).allowed,
      onScheduled: () => void (deal.executorScheduled = true),
    });
    if (outcome.kind === 'ambiguous') return deal.awaitReconciliation(outcome.cause);
    if (outcome.kind === 'not_executed' && outcome.reason === 'permit_expired')
      return deal.deny('permit', 'permit_expired', outcome.cause);
    execution = outcome.kind === 'executed' ? executionOf(outcome.result) : { ok: false, cause: outcome.cause };
    if (execution.ok) deal.executed = execution;
  } else execution = await executeStep(input, order);
  if (!execution.ok) {
    await deal.compensate(`executor failed: ${execution.cause}`);
    return deal.finish({ status: 'failed', dealId, error: execution.cause, compensated: true }, false);
  }
  const { realizedLoss, externalId, pnl } = execution;

  progress.stage = 'settle';
  await gates.settleResult({
    key,
    realizedLoss,
    actor,
    // Warden keeps the position from its own executed deals (strategy's, or the engine's without one).
    ...(policed ? { position: { position: positionKeyOf(input), side: input.side } } : {}),
  });
  deal.reserved = false;
  if (sizing.governed) await learnFromOutcome(input.strategyId!, dealId, pnl, now());
  return deal.finish(
    { status: 'executed', dealId, applyMode: ready.applyMode, permitId: permit.id, realizedLoss, externalId },
    true,
  );
}

/** The size a deal goes ahead with, whether it only trades on paper, and whether the strategy gate governs it. */
interface Sizing {
  amount: number;
  paper: boolean;
  governed: boolean;
}
type StrategyVerdict =
  { outcome: 'denied'; reason: string; detail: string } | { outcome: 'shadow' } | { outcome: 'pass'; sizing: Sizing };

/** Seed 001's strategy gate: the verdict, the execution mode, a human's approval where needed, the size. */
async function strategyStep(
  input: ParsedDealInput,
  strategyId: string,
  progress: DealProgress,
  inbox: ApprovalInbox,
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
    const approved = await awaitOrderApproval(input, inbox, gate.approvers);
    if (!approved)
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
 * next one, as recorded histories have it.
 */
async function awaitOrderApproval(
  input: ParsedDealInput,
  inbox: ApprovalInbox,
  approvers: Record<string, string[]>,
): Promise<boolean> {
  const approvedBy = async (): Promise<boolean> => {
    for (;;) {
      const received = inbox.next();
      // A signal without a payload ends the round unjudged and unaudited, as it always has.
      if (received === undefined || received.payload === undefined) return false;
      const screened = screenApproval(OrderApprovalSchema, received.payload, approvers);
      let problem = screened.ok ? null : screened.problem;
      // Since signed approvals: the approver (and token, if any) must also pass the worker's check.
      if (screened.ok && patched('signed-approvals')) {
        const verdict = await inbox.verify(screened.approval, `deal:${input.dealId}:approveOrder`);
        if (!verdict.ok) problem = verdict.problem;
      }
      if (problem === null) return true;
      inbox.refuse(received.message, redactToken(received.payload) ?? null, problem);
      await inbox.auditRefusals();
    }
  };
  let approved = false;
  return awaitDecision({
    deadline: new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000,
    decided: () => approved,
    wake: () => inbox.waiting > 0,
    drain: async () => void (approved = await approvedBy()),
    drainFirst: true,
    drainOnTimeout: true,
  });
}

type Execution =
  { ok: true; realizedLoss: number; externalId: string | null; pnl: number } | { ok: false; cause: string };

function executionOf(execution: ExecuteDealResult): Execution {
  const realizedLoss = Math.max(0, execution.realizedLoss);
  return { ok: true, realizedLoss, externalId: execution.externalId ?? null, pnl: execution.pnl ?? -realizedLoss };
}

/** Before deal-reconciliation: the executor with Temporal's retries; a failure after them comes back as its cause. */
async function executeStep(
  input: ParsedDealInput,
  order: Parameters<DealExecutor['executeDeal']>[0],
): Promise<Execution> {
  const executor = proxyActivities<DealExecutor>({
    taskQueue: input.executorTaskQueue ?? workflowInfo().taskQueue,
    startToCloseTimeout: '1 minute',
    retry: EXECUTOR_RETRY,
  });
  try {
    return executionOf(await executor.executeDeal(order));
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    const cause =
      error.cause instanceof ApplicationFailure
        ? `${error.cause.type ?? 'Error'}: ${error.cause.message}`
        : (error.cause?.message ?? error.message);
    return { ok: false, cause };
  }
}

/** Outcomes feed the strategy's health and maturity: a demotion is immediate, a promotion is proposed to an operator. */
async function learnFromOutcome(strategyId: string, dealId: string, pnl: number, at: string): Promise<void> {
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
