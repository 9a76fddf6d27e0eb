import type { DealExit } from '../deals/activities';
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

/** A change the database would not take (its content, or bounded retries spent): audited and dropped. */
export interface DroppedChange {
  changeId: string;
  change: unknown;
  problem: string;
  /** Did an update wait for it (and hear a refusal)? */
  awaited: boolean;
}

/** Signals refused while the queue was full, counted per kind. */
export interface QueueOverflow {
  overflowId: string;
  dropped: number;
  kinds: Record<string, number>;
  /** The first few refused payloads, made safe to store. */
  samples: unknown[];
}

export interface ControlPlaneActivities {
  loadControlPlaneState(): Promise<ControlPlaneState>;
  /**
   * Decides and persists one change with its audit event, in one transaction.
   * `changeId` makes a retried call return what it decided the first time
   * instead of deciding again (a signed token, for one, is spent by then).
   * `malformed` names what was wrong with an engage that engaged anyway.
   * A database outage is retried without end; a fault in the change itself
   * (a data error, or bounded attempts spent) fails non-retryably with
   * `ControlPlaneChangeUnstorable`, and the workflow drops the change.
   */
  persistControlPlaneChange(input: {
    changeId: string;
    change: ControlPlaneChange;
    malformed?: string;
  }): Promise<PersistedChange>;
  /** A refused signal changes nothing but leaves a trace: who tried what, and why it was refused. */
  auditRejectedSignal(rejection: RejectedSignal): Promise<void>;
  /** A change dropped after its persist failed for a reason other than an outage. */
  auditDroppedChange(dropped: DroppedChange): Promise<void>;
  /** Signals refused because the queue was full. */
  auditQueueOverflow(overflow: QueueOverflow): Promise<void>;
  /** The first gate of every governed action: reads the persisted state, so a kill switch bites at once. */
  checkControlPlane(input: {
    executionClass: ExecutionClass;
    /** Since trading states: the deal asking, judged as an exit while the kill switch is in reduce mode. */
    deal?: DealExit;
  }): Promise<EnforcementDecision>;
}
