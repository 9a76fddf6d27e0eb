import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { StepRecord } from '../domain/go-live/playbook';
import type { SystemSnapshot } from '../domain/go-live/sessions';
import type { CapitalBand } from '../domain/capital/bands';
import type { ApplyMode, ReleaseApproval } from '../domain/control-plane/types';
import type { Role } from '../domain/identity/roles';

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
  release_approvals: ColumnType<ReleaseApproval[], string | undefined, string>;
  capital_band: ColumnType<CapitalBand, CapitalBand | undefined, CapitalBand>;
  capital_usage: number | null;
}

export interface ApiKeyTable {
  id: string;
  identity: string;
  roles: ColumnType<Role[], string, string>;
  secret_hash: string;
  created_at: ColumnType<Date, Date | undefined, never>;
  created_by: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

export interface ApprovalTokenUseTable {
  token_id: string;
  subject: string;
  used_for: string;
  used_at: ColumnType<Date, Date | undefined, never>;
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
  api_key: ApiKeyTable;
  approval_token_use: ApprovalTokenUseTable;
  risk_policy: RiskPolicyTable;
  risk_ledger_day: RiskLedgerDayTable;
  risk_reservation: RiskReservationTable;
  risk_event: RiskEventTable;
  heimdall_policy: HeimdallPolicyTable;
  heimdall_sandbox_trial: HeimdallSandboxTrialTable;
  heimdall_scorecard_day: HeimdallScorecardDayTable;
  heimdall_recommendation: HeimdallRecommendationTable;
  execution_permit: ExecutionPermitTable;
  permit_block: PermitBlockTable;
  disarm_record: DisarmRecordTable;
  kpi_event: KpiEventTable;
  regression_policy: RegressionPolicyTable;
  regression_state: RegressionStateTable;
  engine_restriction: EngineRestrictionTable;
  canary_check_state: CanaryCheckStateTable;
  drift_baseline: DriftBaselineTable;
  drift_evaluation: DriftEvaluationTable;
  autonomy_phase: AutonomyPhaseTable;
  governance_state: GovernanceStateTable;
  autonomy_approver: AutonomyApproverTable;
  command_record: CommandRecordTable;
  incident: IncidentTable;
  metrics_snapshot: MetricsSnapshotTable;
  readiness_attestation: ReadinessAttestationTable;
  readiness_assessment: ReadinessAssessmentTable;
  circuit_breaker_rule: CircuitBreakerRuleTable;
  circuit_breaker_event: CircuitBreakerEventTable;
  governance_report: GovernanceReportTable;
  expansion_proposal: ExpansionProposalTable;
  strategy: StrategyTable;
  strategy_outcome: StrategyOutcomeTable;
  execution_token: ExecutionTokenTable;
  governance_log: GovernanceLogTable;
  go_live_playbook: GoLivePlaybookTable;
  operator_session: OperatorSessionTable;
  notification: NotificationTable;
  notification_delivery: NotificationDeliveryTable;
}

export type ControlPlaneStateRow = Selectable<ControlPlaneStateTable>;
export type ControlPlaneStateUpdate = Updateable<ControlPlaneStateTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
export type NewAuditEvent = Insertable<AuditEventTable>;

/** Money columns are numeric(18,2), read as JS numbers; arithmetic on them happens in cents. */
export interface RiskPolicyTable {
  engine: string;
  max_daily_loss: number | null;
  max_daily_exposure: number | null;
  max_open_risk: number | null;
  max_actions_per_day: number | null;
  enabled: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface RiskLedgerDayTable {
  engine: string;
  /** UTC day, 'YYYY-MM-DD'. */
  day: string;
  exposure_used: Generated<number>;
  open_risk_reserved: Generated<number>;
  realized_loss: Generated<number>;
  actions: Generated<number>;
}

export type ReservationStatus = 'reserved' | 'denied' | 'settled' | 'released';

export interface RiskReservationTable {
  idempotency_key: string;
  engine: string;
  day: string;
  amount: number;
  status: ReservationStatus;
  denial_scope: string | null;
  denial_reason: string | null;
  realized_loss: number | null;
  actor: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface RiskEventTable {
  id: ColumnType<string, never, never>;
  at: Generated<Date>;
  engine: string;
  kind: 'RESERVE' | 'SETTLE' | 'RELEASE';
  ok: boolean;
  reason: string | null;
  amount: number;
  idempotency_key: string;
  actor: string;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export interface HeimdallPolicyTable {
  domain: string;
  min_confidence_prod: number;
  min_sandbox_trials: number;
  min_sandbox_success_rate: number;
  prod_use_enabled: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface HeimdallSandboxTrialTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string | null;
  domain: string;
  day: string;
  success: boolean;
  confidence: number;
  at: Generated<Date>;
}

export interface HeimdallScorecardDayTable {
  domain: string;
  day: string;
  trials: Generated<number>;
  successes: Generated<number>;
  confidence_sum: Generated<number>;
}

export interface HeimdallRecommendationTable {
  id: string;
  domain: string;
  confidence: number;
  payload: ColumnType<Record<string, unknown>, string | undefined, never>;
  prod_eligible: boolean;
  gate_reason: string;
  created_by: string;
  created_at: Generated<Date>;
}

export interface ExecutionPermitTable {
  id: string;
  idempotency_key: string;
  deal_id: string;
  symbol: string;
  issued_at: Date;
  expires_at: Date;
  status: 'issued' | 'consumed' | 'revoked';
  consumed_at: Date | null;
}

export interface PermitBlockTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string;
  deal_id: string;
  symbol: string;
  reason: string;
  at: Date;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export interface DisarmRecordTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string;
  reason: string;
  symbol: string;
  at: Date;
  context: ColumnType<Record<string, unknown>, string | undefined, never>;
}

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

export type RegressionAction = 'THROTTLE' | 'PAUSE' | 'KILL_SWITCH';

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

export interface CanaryCheckStateTable {
  name: string;
  consecutive_failures: Generated<number>;
  last_ok: boolean;
  last_error: string | null;
  last_checked_at: Date;
  last_failure_at: Date | null;
  last_recovered_at: Date | null;
}

export interface DriftBaselineTable {
  strategy_id: string;
  metric: string;
  baseline_value: number;
  updated_by: string;
  updated_at: Generated<Date>;
}

export interface DriftEvaluationTable {
  id: ColumnType<string, never, never>;
  strategy_id: string;
  metric: string;
  baseline_value: number;
  live_value: number;
  deviation: number;
  action: 'OK' | 'REDUCE_SIZE' | 'PAUSE';
  at: Generated<Date>;
}

type Json<T> = ColumnType<T, string, string>;

export interface AutonomyPhaseTable {
  phase: string;
  ordinal: number;
  added_commands: Json<string[]>;
  all_commands: boolean;
  validation_days: number | null;
  required_roles: Json<string[]>;
}

export interface GovernanceStateTable {
  id: ColumnType<number, 1 | undefined, never>;
  current_phase: string;
  phase_since: Date;
  paused_command_types: Json<string[]>;
  active_proposal_id: string | null;
  last_report_at: Date | null;
  last_report_id: string | null;
  updated_at: Date;
}

export interface AutonomyApproverTable {
  role: string;
  approver: string;
  added_by: string;
  added_at: Generated<Date>;
}

export interface CommandRecordTable {
  id: ColumnType<string, never, never>;
  command_id: string;
  command_type: string;
  phase: string;
  autonomous: boolean;
  status: 'succeeded' | 'failed' | 'rejected' | 'rolled_back';
  approval: 'approved' | 'rejected' | 'timed_out' | 'refused_paused' | null;
  approver: string | null;
  role: string | null;
  detail: string | null;
  at: Date;
}

export interface IncidentTable {
  id: ColumnType<string, never, never>;
  command_id: string | null;
  severity: 'low' | 'medium' | 'high' | 'critical';
  autonomous: boolean;
  description: string;
  at: Date;
}

export interface MetricsSnapshotTable {
  id: ColumnType<string, never, never>;
  window_start: Date;
  window_end: Date;
  metrics: Json<Record<string, unknown>>;
  at: Generated<Date>;
}

export interface ReadinessAttestationTable {
  id: ColumnType<string, never, never>;
  item: string;
  passed: boolean;
  note: string | null;
  attested_by: string;
  attested_at: Generated<Date>;
}

export interface ReadinessAssessmentTable {
  id: ColumnType<string, never, never>;
  at: Date;
  score: number;
  status: string;
  report: Json<Record<string, unknown>>;
}

export interface CircuitBreakerRuleTable {
  name: string;
  enabled: boolean;
  condition: string;
  window: string;
  action: 'revert_to_l3' | 'pause_command_type' | 'alert_only';
  alert_severity: 'low' | 'medium' | 'high' | 'critical';
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface CircuitBreakerEventTable {
  id: ColumnType<string, never, never>;
  rule_name: string;
  action: string;
  alert_severity: string;
  command_type: string | null;
  observed: number;
  detail: string;
  at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
  reverted_proposal_id: ColumnType<string | null, string | null | undefined, string | null>;
  notified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface GovernanceReportTable {
  id: ColumnType<string, never, never>;
  at: Date;
  report: Json<Record<string, unknown>>;
  proposal_id: string | null;
}

export interface ExpansionProposalTable {
  id: string;
  from_phase: string;
  target_phase: string;
  status: string;
  detail: Json<Record<string, unknown>>;
  created_at: Date;
  updated_at: Date;
}

export interface StrategyTable {
  id: string;
  enabled: Generated<boolean>;
  level: ColumnType<'L0' | 'L1' | 'L2' | 'L3' | 'L4', 'L0' | 'L1' | 'L2' | 'L3' | 'L4' | undefined, 'L0' | 'L1' | 'L2' | 'L3' | 'L4'>;
  level_since: Generated<Date>;
  paused: Generated<boolean>;
  paused_reason: string | null;
  capital: Generated<number>;
  token_required: Generated<boolean>;
  health_floor: Generated<number>;
  updated_at: Generated<Date>;
}

export interface StrategyOutcomeTable {
  id: ColumnType<string, never, never>;
  strategy_id: string;
  deal_id: string;
  pnl: number;
  at: Date;
}

export interface ExecutionTokenTable {
  id: string;
  strategy_id: string;
  symbols: Json<string[]>;
  max_notional: number;
  actions: Json<('buy' | 'sell')[]>;
  trace_id: string;
  issued_by: string;
  issued_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export interface GovernanceLogTable {
  id: ColumnType<string, never, never>;
  trace_id: string;
  strategy_id: string;
  action: string;
  scores: Json<Record<string, unknown>>;
  details: Json<Record<string, unknown>>;
  duration_ms: number;
  at: Generated<Date>;
}

/** Seed 004 PACK H: one row per go-live playbook workflow (id = workflow id). */
export interface GoLivePlaybookTable {
  id: string;
  status: 'in_progress' | 'completed' | 'abandoned';
  steps: Json<StepRecord[]>;
  started_by: string;
  started_at: Date;
  completed_at: Date | null;
  environment: string;
}

/** Seed 004 PACK I: operator sessions with snapshots at start and end. */
export interface OperatorSessionTable {
  id: string;
  operator: string;
  status: 'active' | 'ended';
  started_at: Date;
  ended_at: Date | null;
  start_notes: string | null;
  end_notes: string | null;
  start_snapshot: Json<SystemSnapshot>;
  end_snapshot: ColumnType<SystemSnapshot | null, string | null | undefined, string | null>;
}

/** Seed 004's notification queue: one row per audit event worth telling operators about. */
export interface NotificationTable {
  id: ColumnType<string, never, never>;
  at: ColumnType<Date, Date, never>;
  kind: string;
  subject: string;
  summary: string;
  details: ColumnType<Record<string, unknown>, string, never>;
  audit_event_id: ColumnType<string, string, never>;
  routed_at: ColumnType<Date | null, never, Date>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One notification to one configured webhook. */
export interface NotificationDeliveryTable {
  id: ColumnType<string, never, never>;
  notification_id: ColumnType<string, string, never>;
  webhook: ColumnType<string, string, never>;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: Generated<number>;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
}
