import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ControlPlaneActivities } from '../activities/control-plane';
import type { DealActivities } from '../activities/deal-gates';
import { type DealExecutor, type DealGate, type DealInput, DealInputSchema, type DealProgress, type DealResult } from '../src/deals/types';
import { parseInput } from '../src/errors';
import { dealProgressQuery } from './messages';

// Gate steps are short, idempotent database calls: local activities skip a
// server round-trip each, and their keys make a retry harmless.
const gates = proxyLocalActivities<DealActivities & ControlPlaneActivities>({
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

  progress.stage = 'reserve';
  const reservation = await gates.reserveExposure({ key, engine: input.engine, amount: input.amount, actor, at: now() });
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

  if (ready.applyMode === 'dry_run') {
    // The whole gate path ran; nothing executes, so nothing stays reserved.
    const permitId = permit.id;
    await compensate('dry_run: not executed');
    return finish({ status: 'dry_run', dealId, applyMode: 'dry_run', permitId });
  }

  progress.stage = 'execute';
  let realizedLoss: number;
  let externalId: string | null;
  try {
    const execution = await executor.executeDeal({ dealId, engine: input.engine, symbol: input.symbol, amount: input.amount, applyMode: ready.applyMode, permitId: permit.id });
    realizedLoss = Math.max(0, execution.realizedLoss);
    externalId = execution.externalId ?? null;
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    const cause = error.cause instanceof ApplicationFailure ? `${error.cause.type ?? 'Error'}: ${error.cause.message}` : (error.cause?.message ?? error.message);
    await compensate(`executor failed: ${cause}`);
    return finish({ status: 'failed', dealId, error: cause, compensated: true }, false);
  }

  progress.stage = 'settle';
  await gates.settleResult({ key, realizedLoss, actor });
  reserved = false;
  return finish({ status: 'executed', dealId, applyMode: ready.applyMode, permitId: permit.id, realizedLoss, externalId }, true);
}
