import { type Client, WorkflowIdConflictPolicy } from '@temporalio/client';
import { CONTROL_PLANE_WORKFLOW_ID, DEFAULT_TASK_QUEUE } from '../control-plane/ids';
import {
  type ControlPlaneView,
  type EngageKillSwitchInput,
  EngageKillSwitchInputSchema,
  type ReleaseKillSwitchInput,
  ReleaseKillSwitchInputSchema,
  type SetApplyModeInput,
  SetApplyModeInputSchema,
  type SetGoLiveInput,
  SetGoLiveInputSchema,
} from '../control-plane/types';
import { describeIssues } from '../validation';
import type { controlPlane } from '../../workflows/control-plane';
import {
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  releaseKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from '../../workflows/messages';
import type { z } from 'zod';
import type { SignalDefinition } from '@temporalio/workflow';

export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The typed way for producers and operators to reach Warden's workflows. */
export class WardenClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = DEFAULT_TASK_QUEUE,
  ) {}

  /** Starts the control plane unless it already runs; safe to call from every process. */
  async ensureControlPlane(): Promise<void> {
    await this.client.workflow.start<typeof controlPlane>('controlPlane', {
      workflowId: CONTROL_PLANE_WORKFLOW_ID,
      taskQueue: this.taskQueue,
      args: [{}],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  }

  // Changes are validated here too, so a producer hears about a bad field at
  // once instead of finding a rejection in the audit log.
  setGoLive(input: SetGoLiveInput): Promise<void> {
    return this.signalControlPlane(setGoLiveSignal, validate(SetGoLiveInputSchema, input, 'setGoLive'));
  }

  engageKillSwitch(input: EngageKillSwitchInput): Promise<void> {
    return this.signalControlPlane(engageKillSwitchSignal, validate(EngageKillSwitchInputSchema, input, 'engageKillSwitch'));
  }

  releaseKillSwitch(input: ReleaseKillSwitchInput): Promise<void> {
    return this.signalControlPlane(releaseKillSwitchSignal, validate(ReleaseKillSwitchInputSchema, input, 'releaseKillSwitch'));
  }

  setApplyMode(input: SetApplyModeInput): Promise<void> {
    return this.signalControlPlane(setApplyModeSignal, validate(SetApplyModeInputSchema, input, 'setApplyMode'));
  }

  async controlPlaneState(): Promise<ControlPlaneView> {
    return this.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID).query(controlPlaneStateQuery);
  }

  /** Waits until the control plane has persisted every queued change and reached `minVersion`. */
  async waitForControlPlane(minVersion: number, timeoutMs = 15_000): Promise<ControlPlaneView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let progress: string;
      try {
        const view = await this.controlPlaneState();
        if (view.version >= minVersion && view.pendingChanges === 0) return view;
        progress = `at version ${view.version}, ${view.pendingChanges} pending`;
      } catch (error) {
        // Still starting or loading its state: keep asking until the deadline.
        progress = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(`control plane did not reach version ${minVersion} within ${timeoutMs} ms (${progress})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async signalControlPlane<T>(signal: SignalDefinition<[T]>, payload: T): Promise<void> {
    // Signal-with-start: a change is never lost because the entity was not running yet.
    await this.client.workflow.signalWithStart<typeof controlPlane, [T]>('controlPlane', {
      workflowId: CONTROL_PLANE_WORKFLOW_ID,
      taskQueue: this.taskQueue,
      args: [{}],
      signal,
      signalArgs: [payload],
    });
  }
}
