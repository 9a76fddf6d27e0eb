import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

// KPI events, the regression tripwire, engine restrictions and the infrastructure canary.

export interface KpiEventTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string | null;
  domain: string;
  metric: string;
  success: boolean | null;
  value: number | null;
  at: ColumnType<Date, Date | undefined, never>;
  source: string;
}

export type RegressionAction = 'THROTTLE' | 'PAUSE' | 'REDUCE_ONLY' | 'KILL_SWITCH';

export interface RegressionPolicyTable {
  domain: string;
  metric: string;
  /** The engine a THROTTLE or PAUSE acts on. */
  engine: string;
  window_events: number;
  baseline_events: number;
  max_drop_fraction: number;
  action: RegressionAction;
  enabled: Generated<boolean>;
  /** The last baseline reset: events before it are not compared. */
  baseline_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface RegressionStateTable {
  domain: string;
  metric: string;
  triggered: Generated<boolean>;
  last_decision: string;
  baseline: number | null;
  current: number | null;
  drop_fraction: number | null;
  window_count: Generated<number>;
  baseline_count: Generated<number>;
  last_checked_at: Date;
  triggered_at: Date | null;
}

export interface EngineRestrictionTable {
  id: ColumnType<string, never, never>;
  engine: string;
  kind: 'throttle' | 'pause';
  source: string;
  reason: string;
  created_at: Generated<Date>;
  cleared_at: Date | null;
  cleared_by: string | null;
  clear_reason: string | null;
}

/** An engine policy's state before its first active throttle: what clearing the last one restores. */
export interface EngineRestrictionPriorStateTable {
  engine: string;
  /** Was there a risk_policy row? If not, clearing removes the placeholder the throttle created. */
  policy_existed: boolean;
  policy_enabled: boolean | null;
  restriction_id: string;
  captured_at: Generated<Date>;
}

export interface CanaryCheckStateTable {
  name: string;
  consecutive_failures: Generated<number>;
  last_ok: boolean;
  last_error: string | null;
  last_checked_at: Date;
  last_failure_at: Date | null;
  last_recovered_at: Date | null;
}

export type KpiEventRow = Selectable<KpiEventTable>;
export type NewKpiEvent = Insertable<KpiEventTable>;
export type KpiEventUpdate = Updateable<KpiEventTable>;

export type RegressionPolicyRow = Selectable<RegressionPolicyTable>;
export type NewRegressionPolicy = Insertable<RegressionPolicyTable>;
export type RegressionPolicyUpdate = Updateable<RegressionPolicyTable>;

export type RegressionStateRow = Selectable<RegressionStateTable>;
export type NewRegressionState = Insertable<RegressionStateTable>;
export type RegressionStateUpdate = Updateable<RegressionStateTable>;

export type EngineRestrictionRow = Selectable<EngineRestrictionTable>;
export type NewEngineRestriction = Insertable<EngineRestrictionTable>;
export type EngineRestrictionUpdate = Updateable<EngineRestrictionTable>;

export type CanaryCheckStateRow = Selectable<CanaryCheckStateTable>;
export type NewCanaryCheckState = Insertable<CanaryCheckStateTable>;
export type CanaryCheckStateUpdate = Updateable<CanaryCheckStateTable>;
