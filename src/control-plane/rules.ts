import type { ApplyMode, ControlPlaneChange, ControlPlaneState, ExecutionClass } from './types';

export type EnforcementBlockReason = 'go_live_disabled' | 'kill_switch_engaged';

export type EnforcementDecision =
  | { allowed: true; executionClass: ExecutionClass; applyMode: ApplyMode }
  | { allowed: false; executionClass: ExecutionClass; reason: EnforcementBlockReason; detail: string };

/**
 * Seed 000, Lever 1. Coarse rule first: while go-live is off, only observation
 * passes. Precise rule second: an engaged kill switch stops production
 * execution but leaves sandbox work and observation running.
 */
export function enforceControlPlane(executionClass: ExecutionClass, state: ControlPlaneState): EnforcementDecision {
  if (executionClass === 'OBSERVE_ONLY') {
    return { allowed: true, executionClass, applyMode: state.applyMode };
  }
  if (!state.goLiveEnabled) {
    return { allowed: false, executionClass, reason: 'go_live_disabled', detail: 'go-live is off: only OBSERVE_ONLY actions run' };
  }
  if (executionClass === 'PROD_EXEC' && state.killSwitchEngaged) {
    return {
      allowed: false,
      executionClass,
      reason: 'kill_switch_engaged',
      detail: `kill switch engaged by ${state.killSwitchSource ?? 'unknown'}: ${state.reason ?? 'no reason given'}`,
    };
  }
  return { allowed: true, executionClass, applyMode: state.applyMode };
}

/** The state after a change; every accepted change bumps the version. */
export function applyControlPlaneChange(state: ControlPlaneState, change: ControlPlaneChange, at: Date): ControlPlaneState {
  const stamped = { updatedBy: change.actor, updatedAt: at.toISOString(), version: state.version + 1, reason: change.reason ?? null };
  switch (change.kind) {
    case 'setGoLive':
      return { ...state, ...stamped, goLiveEnabled: change.enabled };
    case 'engageKillSwitch':
      return { ...state, ...stamped, killSwitchEngaged: true, killSwitchSource: change.source };
    case 'releaseKillSwitch':
      return { ...state, ...stamped, killSwitchEngaged: false, killSwitchSource: null };
    case 'setApplyMode':
      return { ...state, ...stamped, applyMode: change.mode };
  }
}

/** The audit kind for each change, named after what happened. */
export const CONTROL_PLANE_AUDIT_KINDS: Record<ControlPlaneChange['kind'], string> = {
  setGoLive: 'control_plane.go_live_set',
  engageKillSwitch: 'control_plane.kill_switch_engaged',
  releaseKillSwitch: 'control_plane.kill_switch_released',
  setApplyMode: 'control_plane.apply_mode_set',
};
export const CONTROL_PLANE_REJECTION_KIND = 'control_plane.signal_rejected';
export const CONTROL_PLANE_SUBJECT = 'control-plane';
