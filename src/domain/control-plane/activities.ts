import type { EnforcementDecision } from './rules';
import type { ChangeOutcome, ControlPlaneChange, ControlPlaneState, ExecutionClass } from './types';

// The control plane's activity contract, implemented by activities/control-plane.ts.

export type PersistedChange = ControlPlaneState & { outcome: ChangeOutcome };

export interface RejectedSignal {
  rejectionId: string;
  signal: string;
  payload: unknown;
  problem: string;
}

export interface ControlPlaneActivities {
  loadControlPlaneState(): Promise<ControlPlaneState>;
  /**
   * Decides and persists one change with its audit event, in one transaction.
   * `changeId` makes a retried call return what it decided the first time
   * instead of deciding again (a signed token, for one, is spent by then).
   */
  persistControlPlaneChange(input: { changeId: string; change: ControlPlaneChange }): Promise<PersistedChange>;
  /** A refused signal changes nothing but leaves a trace: who tried what, and why it was refused. */
  auditRejectedSignal(rejection: RejectedSignal): Promise<void>;
  /** The first gate of every governed action: reads the persisted state, so a kill switch bites at once. */
  checkControlPlane(input: { executionClass: ExecutionClass }): Promise<EnforcementDecision>;
}
