import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ApplyMode } from '../control-plane/types';

export interface ControlPlaneStateTable {
  id: ColumnType<number, 1 | undefined, never>;
  go_live_enabled: Generated<boolean>;
  kill_switch_engaged: Generated<boolean>;
  kill_switch_source: string | null;
  apply_mode: ColumnType<ApplyMode, ApplyMode | undefined, ApplyMode>;
  reason: string | null;
  updated_by: Generated<string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  version: Generated<number>;
  /** Id of the last change applied, so a retried persist is a no-op. */
  last_change_id: string | null;
}

export interface AuditEventTable {
  id: ColumnType<string, never, never>;
  at: ColumnType<Date, Date, never>;
  actor: string;
  kind: string;
  subject: string;
  details: ColumnType<Record<string, unknown>, string, never>;
  /** Set when a retried writer must not append the same event twice. */
  idempotency_key: string | null;
  prev_hash: string;
  hash: string;
}

export interface Database {
  control_plane_state: ControlPlaneStateTable;
  audit_event: AuditEventTable;
}

export type ControlPlaneStateRow = Selectable<ControlPlaneStateTable>;
export type ControlPlaneStateUpdate = Updateable<ControlPlaneStateTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
export type NewAuditEvent = Insertable<AuditEventTable>;
