import { z } from 'zod';
import { safeText } from '../shared/validation';
import type { CapitalUsage } from '../capital/bands';
import { ActorSchema, type ControlPlaneState } from '../control-plane/types';
import type { HealthReport } from '../system-health/rules';
import type { PlaybookStatus } from './playbook';

/** Operator names become part of a workflow id (see ids.ts). */
export const OperatorSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,100}$/, 'expected an operator name of letters, digits, . _ @ or -');

/** A session's free-text notes, the same at every boundary. */
export const SessionNotesSchema = safeText({ max: 2000, multiline: true, minMessage: 'must not be empty' });

export const OperatorSessionInputSchema = z.strictObject({
  /** The row's id; a new one per session, so ended sessions stay listed. */
  sessionId: z.uuid(),
  operator: OperatorSchema,
  notes: SessionNotesSchema.optional(),
});
export type OperatorSessionInput = z.infer<typeof OperatorSessionInputSchema>;

export const EndSessionPayloadSchema = z.strictObject({ actor: ActorSchema, notes: SessionNotesSchema.optional() });
export type EndSessionPayload = z.infer<typeof EndSessionPayloadSchema>;

/** Seed 004 PACK I: the state of the system when a session starts or ends. */
export interface SystemSnapshot {
  at: string;
  controlPlane: ControlPlaneState;
  band: CapitalUsage;
  health: HealthReport;
  /** The latest go-live playbook, if any was started. */
  playbook: { id: string; status: PlaybookStatus; steps: number } | null;
}

export interface OperatorSessionView {
  sessionId: string;
  operator: string;
  status: 'active' | 'ended';
  startedAt: string;
  endedAt: string | null;
  startNotes: string | null;
  endNotes: string | null;
  startSnapshot: SystemSnapshot;
  endSnapshot: SystemSnapshot | null;
}
