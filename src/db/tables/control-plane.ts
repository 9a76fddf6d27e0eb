import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { CapitalBand } from '../../domain/capital/bands';
import type { ApplyMode, KillSwitchMode, ReleaseApproval } from '../../domain/control-plane/types';

// The control plane: one row (id 1) holding go-live, kill switch, apply mode and capital band.

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
  kill_switch_engaged_at: Date | null;
  kill_switch_engaged_by: string | null;
  /** halt or reduce while engaged; null while released (and on rows from before modes). */
  kill_switch_mode: KillSwitchMode | null;
  release_approvals: ColumnType<ReleaseApproval[], string | undefined, string>;
  capital_band: ColumnType<CapitalBand, CapitalBand | undefined, CapitalBand>;
  capital_usage: number | null;
}

export type ControlPlaneStateRow = Selectable<ControlPlaneStateTable>;
export type NewControlPlaneState = Insertable<ControlPlaneStateTable>;
export type ControlPlaneStateUpdate = Updateable<ControlPlaneStateTable>;
