import { WorkflowIdConflictPolicy } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/workflow';
import type { controlPlane } from '../../workflows/control-plane';
import {
  changeControlPlaneUpdate,
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  refreshCapitalBandSignal,
  releaseKillSwitchSignal,
  restrictEngineSignal,
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

export function engageKillSwitch(target: Target, input: EngageKillSwitchInput): Promise<void> {
  const payload = validateRequest(EngageKillSwitchInputSchema, input, 'engageKillSwitch');
  return signalControlPlane(target, engageKillSwitchSignal, payload);
}

export function releaseKillSwitch(target: Target, input: ReleaseKillSwitchInput): Promise<void> {
  const payload = validateRequest(ReleaseKillSwitchInputSchema, input, 'releaseKillSwitch');
  return signalControlPlane(target, releaseKillSwitchSignal, payload);
}

export function setApplyMode(target: Target, input: SetApplyModeInput): Promise<void> {
  const payload = validateRequest(SetApplyModeInputSchema, input, 'setApplyMode');
  return signalControlPlane(target, setApplyModeSignal, payload);
}

export function restrictEngine(target: Target, input: RestrictEngineInput): Promise<void> {
  const payload = validateRequest(RestrictEngineInputSchema, input, 'restrictEngine');
  return signalControlPlane(target, restrictEngineSignal, payload);
}

export function refreshCapitalBand(target: Target, input: RefreshCapitalBandInput): Promise<void> {
  const payload = validateRequest(RefreshCapitalBandInputSchema, input, 'refreshCapitalBand');
  return signalControlPlane(target, refreshCapitalBandSignal, payload);
}

export function changeControlPlane(target: Target, input: ChangeControlPlaneInput): Promise<ChangeResult> {
  const parsed = validateRequest(ChangeControlPlaneInputSchema, input, 'changeControlPlane');
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
