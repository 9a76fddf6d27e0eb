import { ActivityFailure, proxyActivities, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type { z } from 'zod';
import type { CommandExecutor, CommandInput } from '../../src/domain/autonomy/activities';
import type { CommandExecutionInputSchema, CommandGateDecision } from '../../src/domain/autonomy/commands';
import type { CommandStatus, IncidentSeverity } from '../../src/domain/autonomy/metrics';
import { ErrorType } from '../../src/domain/shared/errors';

export type Incident = { severity: IncidentSeverity; description: string };

/** How long an authorised command may wait for an executor to pick it up; later, the gates' answer may be stale. */
const EXECUTOR_START_BOUND = '1 minute';

/**
 * Runs the command on the producer's executor; a failure after its retries is an outcome, not a crash.
 * Governed (`ready`), the executor is told the class and apply mode, and must pick the command up
 * within EXECUTOR_START_BOUND: one that never started provably did nothing, so it is a denial
 * (`no_executor`), not a failure.
 */
export async function execute(
  input: z.output<typeof CommandExecutionInputSchema>,
  ready: Extract<CommandGateDecision, { allowed: true }> | undefined,
): Promise<
  | { status: Exclude<CommandStatus, 'denied' | 'dry_run'>; detail: string | null; incident: Incident | null }
  | { denied: Extract<CommandGateDecision, { allowed: false }> }
> {
  const executor = proxyActivities<CommandExecutor>({
    taskQueue: input.executorTaskQueue ?? workflowInfo().taskQueue,
    startToCloseTimeout: '2 minutes',
    ...(ready ? { scheduleToStartTimeout: EXECUTOR_START_BOUND } : {}),
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.CommandRejected] },
  });
  const command: CommandInput = { commandId: input.commandId, commandType: input.commandType, params: input.params };
  try {
    const result = await executor.executeCommand(
      ready ? { ...command, executionClass: ready.executionClass, applyMode: ready.applyMode } : command,
    );
    return { status: result.rolledBack ? 'rolled_back' : 'succeeded', detail: null, incident: result.incident ?? null };
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    if (ready && error.cause instanceof TimeoutFailure && error.cause.timeoutType === TimeoutType.SCHEDULE_TO_START)
      return {
        denied: {
          allowed: false,
          executionClass: ready.executionClass,
          gate: 'executor',
          reason: 'no_executor',
          detail: `no executor picked the command up within ${EXECUTOR_START_BOUND} on ${input.executorTaskQueue ?? workflowInfo().taskQueue}`,
        },
      };
    return { status: 'failed', detail: error.cause?.message ?? error.message, incident: null };
  }
}
