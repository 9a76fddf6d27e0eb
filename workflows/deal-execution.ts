import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AutonomyActivities } from '../activities/autonomy';
import type { ControlPlaneActivities } from '../activities/control-plane';
import type { DealActivities } from '../activities/deal-gates';
import type { StrategyGateActivities } from '../activities/strategy-gate';
import { type DealExecutor, type DealGate, type DealInput, DealInputSchema, type DealProgress, type DealResult } from '../src/domain/deals/types';
import { parseInput } from '../src/domain/shared/errors';
import { redactToken } from '../src/domain/identity/redact';
import { AUTONOMY_APPROVER_ROLE } from '../src/domain/identity/roles';
import type { ApprovalActivities } from '../activities/approvals';
import { describeIssues } from '../src/domain/shared/validation';
import { OrderApprovalSchema, promotionWorkflowId } from '../src/domain/strategy/messages';
import { approveOrderSignal, dealProgressQuery } from './messages';
import { strategyPromotion } from './strategy-promotion';

// Gate steps are short, idempotent database calls: local activities skip a
// server round-trip each, and their keys make a retry harmless.
const gates = proxyLocalActivities<DealActivities & ControlPlaneActivities & StrategyGateActivities & Pick<AutonomyActivities, 'auditRejectedMessage'> & ApprovalActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['ReservationNotFound', 'ReservationStateError'] },
});
const controlPlane = proxyActivities<Pick<DealActivities, 'disarmToDryRun'>>({ startToCloseTimeout: '30 seconds' });

/** Retry policy for the producer's executor; after it, the deal compensates and fails. */
export const EXECUTOR_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: ['ExecutionRejected'] };

/**
 * A governed deal: control plane → reserve → prod eligibility → permit →
 * control plane again → execute → settle → KPI → audit. A denial is a typed
 * result; whatever was reserved or permitted before it is released once.
 */
export async function dealExecution(rawInput: DealInput): Promise<DealResult> {
  const input = parseInput(DealInputSchema, rawInput, 'dealExecution input');
  const { dealId, requestedBy: actor } = input;
  const key = `deal:${dealId}`;
  const now = () => new Date().toISOString(); // workflow time: deterministic, and skipped in tests
  const executor = proxyActivities<DealExecutor>({
    taskQueue: input.executorTaskQueue ?? workflowInfo().taskQueue,
    startToCloseTimeout: '1 minute',
    retry: EXECUTOR_RETRY,
  });

  const progress: DealProgress = { dealId, stage: 'control_plane', gates: [], applyMode: null, result: null };
  setHandler(dealProgressQuery, () => progress, { description: 'Which gate the deal is at, what each gate said, and the result once done.' });

  let reserved = false;
  let permit: { id: string; consumed: boolean } | undefined;
  let compensation: string | null = null;

  async function compensate(reason: string): Promise<void> {
    progress.stage = 'compensate';
    const undone: string[] = [];
    if (permit && !permit.consumed && (await gates.revokePermit({ permitId: permit.id, reason })).revoked) undone.push('permit revoked');
    permit = undefined;
    if (reserved && (await gates.releaseReservation({ key, actor, reason })).released) undone.push('reservation released');
    reserved = false;
    compensation = undone.length > 0 ? `${undone.join(', ')}: ${reason}` : null;
  }
  async function finish(result: DealResult, kpiSuccess?: boolean): Promise<DealResult> {
    progress.stage = 'record';
    const kpi = kpiSuccess === undefined ? null : { domain: input.domain ?? input.engine, metric: 'deal_executed', success: kpiSuccess, value: input.amount, at: now() };
    await gates.recordDealOutcome({ key: `${key}:outcome`, actor, result, compensation, kpi });
    progress.result = result;
    progress.stage = 'done';
    return result;
  }
  async function deny(gate: DealGate, reason: string, detail: string): Promise<DealResult> {
    progress.gates.push({ gate, ok: false, reason });
    await compensate(`denied at ${gate}: ${reason}`);
    return finish({ status: 'denied', dealId, gate, reason, detail });
  }

  const entry = await gates.checkControlPlane({ executionClass: input.executionClass });
  if (!entry.allowed) return deny('control_plane', entry.reason, entry.detail);
  progress.gates.push({ gate: 'control_plane', ok: true });

  // Seed 001's order: the strategy gate after the control plane, before the risk reserve.
  let amount = input.amount;
  let paper = false;
  let strategyGoverned = false;
  const approvals: unknown[] = [];
  setHandler(approveOrderSignal, (payload: unknown) => void approvals.push(payload), { description: 'Approve this order (L2 or CRITICAL impact). {"approver": "alice", "role": "tech_lead"}' });
  if (input.strategyId !== undefined && patched('strategy-gate')) {
    progress.stage = 'strategy';
    const gate = await gates.evaluateStrategyGate({
      traceId: key,
      strategyId: input.strategyId,
      symbol: input.symbol,
      side: input.side,
      position: input.position,
      notional: input.amount,
      impact: input.impact ?? {},
      tokenId: input.executionTokenId,
      at: now(),
    });
    if (gate.enabled) {
      strategyGoverned = true;
      const d = gate.decision;
      if (d.action !== 'ALLOW' && d.action !== 'REDUCE_SIZE') return deny('strategy', d.action.toLowerCase(), d.reasons.join('; '));
      if (d.execution === 'shadow') {
        progress.gates.push({ gate: 'strategy', ok: true, reason: 'shadow' });
        return finish({ status: 'shadow', dealId, strategyId: input.strategyId, amount });
      }
      if (d.execution === 'approval' && !d.reduceOnlyExit) {
        progress.stage = 'awaiting_order_approval';
        const approvedBy = async (): Promise<boolean> => {
          for (;;) {
            const payload = approvals.shift();
            if (payload === undefined) return false;
            const parsed = OrderApprovalSchema.safeParse(payload);
            let problem = !parsed.success
              ? describeIssues(parsed.error)
              : (gate.approvers[parsed.data.role] ?? []).includes(parsed.data.approver)
                ? null
                : `${parsed.data.approver} is not on the allowlist for ${parsed.data.role}`;
            // Since signed approvals: the approver (and token, if any) must also pass the worker's check.
            if (problem === null && parsed.success && patched('signed-approvals')) {
              const { approver, role, token } = parsed.data;
              const verdict = await gates.verifyApproval({ actor: approver, role: AUTONOMY_APPROVER_ROLE[role], usedFor: `deal:${dealId}:approveOrder`, ...(token !== undefined ? { token } : {}) });
              if (!verdict.ok) problem = verdict.problem;
            }
            if (problem === null) return true;
            // Refused, audited (without the token), and the wait goes on.
            await gates.auditRejectedMessage({ subject: `deal:${dealId}`, message: 'approveOrder', payload: redactToken(payload) ?? null, problem, key: uuid4() });
          }
        };
        const deadline = new Date().getTime() + input.orderApprovalTimeoutSeconds * 1000;
        let approved = false;
        while (!approved) {
          approved = await approvedBy();
          const left = deadline - new Date().getTime();
          if (approved || left <= 0) break;
          await condition(() => approvals.length > 0, left);
        }
        if (!approved) return deny('strategy', 'approval_timeout', `no approveOrder within ${input.orderApprovalTimeoutSeconds} s`);
      }
      amount = Math.floor(input.amount * d.sizeMultiplier * 100) / 100;
      if (amount <= 0) return deny('strategy', 'size_reduced_to_zero', `size multiplier ${d.sizeMultiplier}`);
      paper = d.execution === 'paper';
      progress.gates.push({ gate: 'strategy', ok: true, ...(d.action === 'REDUCE_SIZE' ? { reason: `reduced to ${amount}` } : {}) });
    }
  }

  progress.stage = 'reserve';
  const reservation = await gates.reserveExposure({ key, engine: input.engine, amount, actor, at: now() });
  if (!reservation.ok) return deny('risk', reservation.reason, reservation.detail);
  reserved = true;
  progress.gates.push({ gate: 'risk', ok: true });

  if (input.recommendationId !== undefined) {
    progress.stage = 'prod_eligibility';
    const eligible = await gates.assertProdEligible({ recommendationId: input.recommendationId, domain: input.domain, actor, correlationId: key });
    if (!eligible.ok) return deny('prod_eligibility', eligible.reason, eligible.detail);
    progress.gates.push({ gate: 'prod_eligibility', ok: true });
  }

  progress.stage = 'permit';
  const issued = await gates.issuePermit({ key, dealId, symbol: input.symbol, at: now(), actor });
  if (!issued.granted) {
    if (issued.disarm) await controlPlane.disarmToDryRun({ symbol: input.symbol, dealId, detail: issued.detail });
    return deny('permit', issued.reason, issued.detail);
  }
  permit = { id: issued.permitId, consumed: false };
  progress.gates.push({ gate: 'permit', ok: true });

  // A kill switch engaged since the first check stops the deal here, before any side effect.
  progress.stage = 'pre_execute_check';
  const ready = await gates.authorizeExecution({ permitId: permit.id, dealId, executionClass: input.executionClass, at: now() });
  if (!ready.authorized) return deny(ready.gate, ready.reason, ready.detail);
  permit.consumed = true;
  progress.gates.push({ gate: 'pre_execute_check', ok: true });
  progress.applyMode = ready.applyMode;

  if (ready.applyMode === 'dry_run' || paper) {
    // The whole gate path ran; nothing executes, so nothing stays reserved.
    const permitId = permit.id;
    await compensate(paper ? 'paper: not executed' : 'dry_run: not executed');
    if (paper) return finish({ status: 'paper', dealId, strategyId: input.strategyId!, amount });
    return finish({ status: 'dry_run', dealId, applyMode: 'dry_run', permitId });
  }

  progress.stage = 'execute';
  let realizedLoss: number;
  let externalId: string | null;
  let pnl: number;
  try {
    const execution = await executor.executeDeal({ dealId, engine: input.engine, symbol: input.symbol, amount, applyMode: ready.applyMode, permitId: permit.id });
    realizedLoss = Math.max(0, execution.realizedLoss);
    externalId = execution.externalId ?? null;
    pnl = execution.pnl ?? -realizedLoss;
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    const cause = error.cause instanceof ApplicationFailure ? `${error.cause.type ?? 'Error'}: ${error.cause.message}` : (error.cause?.message ?? error.message);
    await compensate(`executor failed: ${cause}`);
    return finish({ status: 'failed', dealId, error: cause, compensated: true }, false);
  }

  progress.stage = 'settle';
  await gates.settleResult({ key, realizedLoss, actor });
  reserved = false;
  if (strategyGoverned) await learnFromOutcome(input.strategyId!, dealId, pnl, now());
  return finish({ status: 'executed', dealId, applyMode: ready.applyMode, permitId: permit.id, realizedLoss, externalId }, true);
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
