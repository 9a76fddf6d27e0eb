// The producer's executor, driven attempt by attempt from the workflow, so
// that what each failure proves is known: Temporal's timeouts apply per
// attempt, and only the FIRST attempt's schedule-to-start timeout proves the
// order never reached an executor. Every attempt is its own activity with
// maximumAttempts 1. Deals from before deal-reconciliation keep the one
// activity with Temporal's retries (`executeWithRetries`).
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  proxyActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { DealExecutor, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { ErrorType } from '../../src/domain/shared/errors';

/** Retry policy for the producer's executor; after it, the deal compensates and fails. */
export const EXECUTOR_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumAttempts: 3,
  nonRetryableErrorTypes: [ErrorType.ExecutionRejected],
};

/** Attempts, and the backoff between them (as the retry policy before it: 1 s, then doubling). */
export const EXECUTOR_ATTEMPTS = 3;
const BACKOFF_MS = 1000;
/** A later attempt must start within this, or the deal stops (ambiguous: an earlier attempt may have run). */
const RETRY_START_MS = 30_000;

export type ExecutorOutcome =
  | { kind: 'executed'; result: ExecuteDealResult }
  /** Provably not executed: the executor refused (`ExecutionRejected`) or the first attempt never started. */
  | { kind: 'not_executed'; reason: 'permit_expired' | 'execution_rejected'; cause: string }
  /** May have executed: a timeout after start, failures exhausted, a later attempt that never started. */
  | { kind: 'ambiguous'; cause: string };

function describe(error: ActivityFailure): string {
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  if (cause instanceof TimeoutFailure) return `${cause.timeoutType ?? 'unknown'} timeout`;
  return cause?.message ?? error.message;
}

/**
 * Runs the executor. `startWithinMs` is what is left of the permit's TTL: the
 * first attempt must start before the permit expires. `mayContinue` is asked
 * before each later attempt (the control plane again: a kill switch engaged
 * meanwhile stops the retries). `onScheduled` marks that an executor may run
 * from now on. A cancellation propagates.
 */
export async function runExecutor(options: {
  taskQueue: string;
  order: ExecuteDealInput;
  startWithinMs: number;
  /** How long one attempt may run once started. */
  runWithinMs: number;
  mayContinue: () => Promise<boolean>;
  onScheduled: () => void;
}): Promise<ExecutorOutcome> {
  if (options.startWithinMs <= 0)
    return { kind: 'not_executed', reason: 'permit_expired', cause: 'the permit expired before the executor call' };
  let last = '';
  for (let attempt = 1; attempt <= EXECUTOR_ATTEMPTS; attempt++) {
    if (attempt > 1) {
      await sleep(BACKOFF_MS * 2 ** (attempt - 2));
      if (!(await options.mayContinue()))
        return { kind: 'ambiguous', cause: `${last}; attempt ${attempt} stopped by the control plane` };
    }
    const startWithin = attempt === 1 ? options.startWithinMs : RETRY_START_MS;
    const executor = proxyActivities<DealExecutor>({
      taskQueue: options.taskQueue,
      scheduleToStartTimeout: startWithin,
      startToCloseTimeout: options.runWithinMs,
      scheduleToCloseTimeout: startWithin + options.runWithinMs,
      retry: { maximumAttempts: 1 },
    });
    options.onScheduled();
    try {
      return { kind: 'executed', result: await executor.executeDeal(options.order) };
    } catch (error) {
      if (error instanceof CancelledFailure) throw error;
      if (!(error instanceof ActivityFailure)) throw error;
      if (error.cause instanceof CancelledFailure) throw error.cause;
      const cause = error.cause;
      last = describe(error);
      if (cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START') {
        // Never picked up: provable for the first attempt only.
        if (attempt === 1)
          return {
            kind: 'not_executed',
            reason: 'permit_expired',
            cause: `the executor did not start within the permit's ${Math.round(startWithin / 1000)} s`,
          };
        return { kind: 'ambiguous', cause: `attempt ${attempt} did not start; an earlier one may have run: ${last}` };
      }
      if (cause instanceof ApplicationFailure && cause.type === ErrorType.ExecutionRejected)
        return { kind: 'not_executed', reason: 'execution_rejected', cause: last };
      // A timeout after start, a lost worker, or a refusal we cannot read: the order may be live; never re-send it.
      if (!(cause instanceof ApplicationFailure) || cause.nonRetryable)
        return { kind: 'ambiguous', cause: `attempt ${attempt}: ${last}` };
    }
  }
  return { kind: 'ambiguous', cause: `${EXECUTOR_ATTEMPTS} attempts failed, the last: ${last}` };
}

/** What the executor did, as the deal settles it: the loss, the producer's id and the P&L, or why it failed. */
export type Execution =
  { ok: true; realizedLoss: number; externalId: string | null; pnl: number } | { ok: false; cause: string };

export function executionOf(execution: ExecuteDealResult): Execution {
  const realizedLoss = Math.max(0, execution.realizedLoss);
  return { ok: true, realizedLoss, externalId: execution.externalId ?? null, pnl: execution.pnl ?? -realizedLoss };
}

/** Before deal-reconciliation: the executor with Temporal's retries; a failure after them comes back as its cause. */
export async function executeWithRetries(taskQueue: string, order: ExecuteDealInput): Promise<Execution> {
  const executor = proxyActivities<DealExecutor>({
    taskQueue,
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
