import type { CommandStatus } from '../../domain/autonomy/metrics';
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Json } from './json';

// Autonomy governance (seed 002): phases, approvers, commands, incidents, metrics, readiness,
// circuit breakers, weekly reports and expansion proposals.

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
  status: CommandStatus;
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
  /** The saving cycle's key: a retry finds its report instead of adding one. */
  idempotency_key: ColumnType<string | null, string | null | undefined, string | null>;
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

/** Warden's own record of a proposal (expansion or promotion), keyed by the proposal's workflow id. */
export interface ProposalRecordTable {
  id: string;
  kind: 'expansion' | 'promotion';
  /** `autonomy` for an expansion, the strategy id for a promotion. */
  subject: string;
  /** The phase (expansion) or maturity level (promotion) the proposal starts from and moves to. */
  from_state: string;
  to_state: string;
  terms: Json<Record<string, unknown>>;
  requested_by: string;
  created_at: Generated<Date>;
  closed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  closed_status: ColumnType<string | null, string | null | undefined, string | null>;
}

export type ProposalRecordRow = Selectable<ProposalRecordTable>;
export type NewProposalRecord = Insertable<ProposalRecordTable>;

export type AutonomyPhaseRow = Selectable<AutonomyPhaseTable>;
export type NewAutonomyPhase = Insertable<AutonomyPhaseTable>;
export type AutonomyPhaseUpdate = Updateable<AutonomyPhaseTable>;

export type GovernanceStateRow = Selectable<GovernanceStateTable>;
export type NewGovernanceState = Insertable<GovernanceStateTable>;
export type GovernanceStateUpdate = Updateable<GovernanceStateTable>;

export type AutonomyApproverRow = Selectable<AutonomyApproverTable>;
export type NewAutonomyApprover = Insertable<AutonomyApproverTable>;
export type AutonomyApproverUpdate = Updateable<AutonomyApproverTable>;

export type CommandRecordRow = Selectable<CommandRecordTable>;
export type NewCommandRecord = Insertable<CommandRecordTable>;
export type CommandRecordUpdate = Updateable<CommandRecordTable>;

export type IncidentRow = Selectable<IncidentTable>;
export type NewIncident = Insertable<IncidentTable>;
export type IncidentUpdate = Updateable<IncidentTable>;

export type MetricsSnapshotRow = Selectable<MetricsSnapshotTable>;
export type NewMetricsSnapshot = Insertable<MetricsSnapshotTable>;
export type MetricsSnapshotUpdate = Updateable<MetricsSnapshotTable>;

export type ReadinessAttestationRow = Selectable<ReadinessAttestationTable>;
export type NewReadinessAttestation = Insertable<ReadinessAttestationTable>;
export type ReadinessAttestationUpdate = Updateable<ReadinessAttestationTable>;

export type ReadinessAssessmentRow = Selectable<ReadinessAssessmentTable>;
export type NewReadinessAssessment = Insertable<ReadinessAssessmentTable>;
export type ReadinessAssessmentUpdate = Updateable<ReadinessAssessmentTable>;

export type CircuitBreakerRuleRow = Selectable<CircuitBreakerRuleTable>;
export type NewCircuitBreakerRule = Insertable<CircuitBreakerRuleTable>;
export type CircuitBreakerRuleUpdate = Updateable<CircuitBreakerRuleTable>;

export type CircuitBreakerEventRow = Selectable<CircuitBreakerEventTable>;
export type NewCircuitBreakerEvent = Insertable<CircuitBreakerEventTable>;
export type CircuitBreakerEventUpdate = Updateable<CircuitBreakerEventTable>;

export type GovernanceReportRow = Selectable<GovernanceReportTable>;
export type NewGovernanceReport = Insertable<GovernanceReportTable>;
export type GovernanceReportUpdate = Updateable<GovernanceReportTable>;

export type ExpansionProposalRow = Selectable<ExpansionProposalTable>;
export type NewExpansionProposal = Insertable<ExpansionProposalTable>;
export type ExpansionProposalUpdate = Updateable<ExpansionProposalTable>;
