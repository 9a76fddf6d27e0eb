import type { Kysely } from 'kysely';
import { SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import { recordAuditEvent } from '../src/db/audit.repository';
import { type ControlPlaneSettings, type PersistedChange, persistControlPlaneChange, readControlPlaneState } from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import { CONTROL_PLANE_REJECTION_KIND, CONTROL_PLANE_SUBJECT, enforceControlPlane, type EnforcementDecision } from '../src/domain/control-plane/rules';
import type { ControlPlaneChange, ControlPlaneState, ExecutionClass } from '../src/domain/control-plane/types';

export interface RejectedSignal {
  rejectionId: string;
  signal: string;
  payload: unknown;
  problem: string;
}

export function createControlPlaneActivities({ db, settings = SAFE_GOVERNANCE_SETTINGS }: { db: Kysely<Database>; settings?: ControlPlaneSettings | undefined }) {
  return {
    async loadControlPlaneState(): Promise<ControlPlaneState> {
      return readControlPlaneState(db);
    },

    async persistControlPlaneChange(input: { changeId: string; change: ControlPlaneChange }): Promise<PersistedChange> {
      return persistControlPlaneChange(db, input.changeId, input.change, settings);
    },

    /** A refused signal changes nothing but leaves a trace: who tried what, and why it was refused. */
    async auditRejectedSignal(rejection: RejectedSignal): Promise<void> {
      const actor =
        typeof rejection.payload === 'object' && rejection.payload !== null && typeof (rejection.payload as { actor?: unknown }).actor === 'string'
          ? String((rejection.payload as { actor: string }).actor).slice(0, 200)
          : 'unknown';
      await recordAuditEvent(db, {
        actor,
        kind: CONTROL_PLANE_REJECTION_KIND,
        subject: CONTROL_PLANE_SUBJECT,
        details: { signal: rejection.signal, payload: rejection.payload ?? null, problem: rejection.problem },
        idempotencyKey: `control-plane-rejection:${rejection.rejectionId}`,
      });
    },

    /** The first gate of every governed action: reads the persisted state, so a kill switch bites at once. */
    async checkControlPlane(input: { executionClass: ExecutionClass }): Promise<EnforcementDecision> {
      return enforceControlPlane(input.executionClass, await readControlPlaneState(db));
    },
  };
}

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;
