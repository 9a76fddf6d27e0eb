import { WithStartWorkflowOperation, WorkflowIdConflictPolicy } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/workflow';
import type { controlPlane } from '../../workflows/control-plane';
import {
  changeControlPlaneUpdate,
  clearEngineRestrictionSignal,
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  refreshCapitalBandSignal,
  releaseKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from '../../workflows/messages';
import {
  CONTROL_PLANE_WORKFLOW_ID,
  CONTROL_PLANE_WORKFLOW_TYPE,
  NOTIFICATION_DISPATCH_WORKFLOW_ID,
  NOTIFICATION_DISPATCH_WORKFLOW_TYPE,
} from '../../workflows/names';
import type { notificationDispatch } from '../../workflows/notification-dispatch';
import {
  type ChangeControlPlaneInput,
  ChangeControlPlaneInputSchema,
  type ChangeResult,
  type ClearEngineRestrictionInput,
  ClearEngineRestrictionInputSchema,
  type ControlPlaneView,
  type EngageKillSwitchInput,
  EngageKillSwitchInputSchema,
  type RefreshCapitalBandInput,
  RefreshCapitalBandInputSchema,
  type ReleaseKillSwitchInput,
  ReleaseKillSwitchInputSchema,
  type RestrictEngineInput,
  RestrictEngineInputSchema,
  type SetApplyModeInput,
  SetApplyModeInputSchema,
  type SetGoLiveInput,
  SetGoLiveInputSchema,
} from '../domain/control-plane/types';
import { coerceEngage } from '../domain/control-plane/engage';
import { validateRequest } from '../domain/shared/validation';
import type { Target } from './target';

export async function ensureControlPlane(target: Target): Promise<void> {
  await target.client.workflow.start<typeof controlPlane>(CONTROL_PLANE_WORKFLOW_TYPE, {
    workflowId: CONTROL_PLANE_WORKFLOW_ID,
    taskQueue: target.taskQueue,
    args: [{}],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

export async function ensureNotificationDispatch(target: Target): Promise<void> {
  await target.client.workflow.start<typeof notificationDispatch>(NOTIFICATION_DISPATCH_WORKFLOW_TYPE, {
    workflowId: NOTIFICATION_DISPATCH_WORKFLOW_ID,
    taskQueue: target.taskQueue,
    args: [{}],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

// Changes are validated here too, so a producer hears about a bad field at
// once instead of finding a rejection in the audit log.
export function setGoLive(target: Target, input: SetGoLiveInput): Promise<void> {
  return signalControlPlane(target, setGoLiveSignal, validateRequest(SetGoLiveInputSchema, input, 'setGoLive'));
}

/** Never refused for its form: a malformed field is sent recorded as malformed, and the engage still takes effect. */
export function engageKillSwitch(target: Target, input: EngageKillSwitchInput): Promise<void> {
  const parsed = EngageKillSwitchInputSchema.safeParse(input);
  return signalControlPlane(target, engageKillSwitchSignal, parsed.success ? parsed.data : coerceEngage(input));
}

export function releaseKillSwitch(target: Target, input: ReleaseKillSwitchInput): Promise<void> {
  const payload = validateRequest(ReleaseKillSwitchInputSchema, input, 'releaseKillSwitch');
  return signalControlPlane(target, releaseKillSwitchSignal, payload);
}

export function setApplyMode(target: Target, input: SetApplyModeInput): Promise<void> {
  const payload = validateRequest(SetApplyModeInputSchema, input, 'setApplyMode');
  return signalControlPlane(target, setApplyModeSignal, payload);
}

/**
 * Update-with-start: resolves once the control plane has persisted the
 * restriction (so a tripwire run ends with it in force), even if the entity
 * was not running.
 */
export async function restrictEngine(target: Target, input: RestrictEngineInput): Promise<void> {
  const payload = validateRequest(RestrictEngineInputSchema, input, 'restrictEngine');
  await target.client.workflow.executeUpdateWithStart(changeControlPlaneUpdate, {
    args: [{ kind: 'restrictEngine', ...payload }],
    startWorkflowOperation: new WithStartWorkflowOperation<typeof controlPlane>(CONTROL_PLANE_WORKFLOW_TYPE, {
      workflowId: CONTROL_PLANE_WORKFLOW_ID,
      taskQueue: target.taskQueue,
      args: [{}],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    }),
  });
}

export function refreshCapitalBand(target: Target, input: RefreshCapitalBandInput): Promise<void> {
  const payload = validateRequest(RefreshCapitalBandInputSchema, input, 'refreshCapitalBand');
  return signalControlPlane(target, refreshCapitalBandSignal, payload);
}

/** Lifts a throttle or pause (by id, or an engine's); the last throttle lifted restores the engine policy. */
export function clearEngineRestriction(target: Target, input: ClearEngineRestrictionInput): Promise<void> {
  const payload = validateRequest(ClearEngineRestrictionInputSchema, input, 'clearEngineRestriction');
  return signalControlPlane(target, clearEngineRestrictionSignal, payload);
}

export function changeControlPlane(target: Target, input: ChangeControlPlaneInput): Promise<ChangeResult> {
  const engage = (input as { kind?: unknown } | null)?.kind === 'engageKillSwitch';
  const strict = ChangeControlPlaneInputSchema.safeParse(input);
  // An engage is never refused for its form: what is malformed is recorded as such.
  const parsed =
    engage && !strict.success
      ? { kind: 'engageKillSwitch' as const, ...coerceEngage(input) }
      : validateRequest(ChangeControlPlaneInputSchema, input, 'changeControlPlane');
  return target.client.workflow
    .getHandle(CONTROL_PLANE_WORKFLOW_ID)
    .executeUpdate(changeControlPlaneUpdate, { args: [parsed] });
}

export function controlPlaneState(target: Target): Promise<ControlPlaneView> {
  return target.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID).query(controlPlaneStateQuery);
}

export async function waitForControlPlane(
  target: Target,
  minVersion: number,
  timeoutMs: number,
): Promise<ControlPlaneView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let progress: string;
    try {
      const view = await controlPlaneState(target);
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

async function signalControlPlane<T>(target: Target, signal: SignalDefinition<[T]>, payload: T): Promise<void> {
  // Signal-with-start: a change is never lost because the entity was not running yet.
  await target.client.workflow.signalWithStart<typeof controlPlane, [T]>(CONTROL_PLANE_WORKFLOW_TYPE, {
    workflowId: CONTROL_PLANE_WORKFLOW_ID,
    taskQueue: target.taskQueue,
    args: [{}],
    signal,
    signalArgs: [payload],
  });
}
