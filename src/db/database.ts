import type { AuditEventTable } from './tables/audit';
import type {
  AutonomyApproverTable,
  AutonomyPhaseTable,
  CircuitBreakerEventTable,
  CircuitBreakerRuleTable,
  CommandRecordTable,
  ExpansionProposalTable,
  GovernanceReportTable,
  GovernanceStateTable,
  IncidentTable,
  MetricsSnapshotTable,
  ProposalRecordTable,
  ReadinessAssessmentTable,
  ReadinessAttestationTable,
} from './tables/autonomy';
import type { ChangeRequestTable } from './tables/change-requests';
import type { CommandPolicyTable } from './tables/command-policies';
import type { ControlPlaneStateTable } from './tables/control-plane';
import type { DealClaimTable } from './tables/deals';
import type {
  ExecutionPolicyTable,
  PositionEventTable,
  PositionExitHoldTable,
  PositionTable,
} from './tables/execution-policies';
import type { GoLivePlaybookTable, OperatorSessionTable } from './tables/go-live';
import type { ApiKeyTable, ApprovalTokenTable, ApprovalTokenUseTable } from './tables/identity';
import type { NotificationDeliveryTable, NotificationTable } from './tables/notifications';
import type { DisarmRecordTable, ExecutionPermitTable, PermitBlockTable } from './tables/permits';
import type {
  HeimdallPolicyTable,
  HeimdallRecommendationTable,
  HeimdallSandboxTrialTable,
  HeimdallScorecardDayTable,
} from './tables/prod-eligibility';
import type { RateLimitWindowTable } from './tables/rate-limits';
import type {
  RiskEventTable,
  RiskLedgerDayTable,
  RiskLedgerStripeTable,
  RiskPolicyTable,
  RiskReservationTable,
} from './tables/risk';
import type {
  DriftBaselineTable,
  DriftEvaluationTable,
  ExecutionTokenTable,
  GovernanceLogTable,
  StrategyOutcomeTable,
  StrategyTable,
} from './tables/strategy';
import type {
  CanaryCheckStateTable,
  EngineRestrictionPriorStateTable,
  EngineRestrictionTable,
  KpiEventTable,
  RegressionPolicyTable,
  RegressionStateTable,
} from './tables/watchdogs';

// Each table's interface and row types live in tables/<concept>.ts; importers may
// keep taking them from here.
export type * from './tables/audit';
export type * from './tables/autonomy';
export type * from './tables/change-requests';
export type * from './tables/command-policies';
export type * from './tables/control-plane';
export type * from './tables/deals';
export type * from './tables/execution-policies';
export type * from './tables/go-live';
export type * from './tables/identity';
export type * from './tables/notifications';
export type * from './tables/permits';
export type * from './tables/prod-eligibility';
export type * from './tables/rate-limits';
export type * from './tables/risk';
export type * from './tables/strategy';
export type * from './tables/watchdogs';

/** Every table Warden's migrations create, by name. */
export interface Database {
  control_plane_state: ControlPlaneStateTable;
  audit_event: AuditEventTable;
  api_key: ApiKeyTable;
  approval_token_use: ApprovalTokenUseTable;
  approval_token: ApprovalTokenTable;
  rate_limit_window: RateLimitWindowTable;
  risk_policy: RiskPolicyTable;
  risk_ledger_day: RiskLedgerDayTable;
  risk_ledger_stripe: RiskLedgerStripeTable;
  risk_reservation: RiskReservationTable;
  risk_event: RiskEventTable;
  deal_claim: DealClaimTable;
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
  engine_restriction_prior_state: EngineRestrictionPriorStateTable;
  canary_check_state: CanaryCheckStateTable;
  drift_baseline: DriftBaselineTable;
  drift_evaluation: DriftEvaluationTable;
  autonomy_phase: AutonomyPhaseTable;
  governance_state: GovernanceStateTable;
  autonomy_approver: AutonomyApproverTable;
  command_record: CommandRecordTable;
  command_policy: CommandPolicyTable;
  incident: IncidentTable;
  metrics_snapshot: MetricsSnapshotTable;
  readiness_attestation: ReadinessAttestationTable;
  readiness_assessment: ReadinessAssessmentTable;
  circuit_breaker_rule: CircuitBreakerRuleTable;
  circuit_breaker_event: CircuitBreakerEventTable;
  governance_report: GovernanceReportTable;
  expansion_proposal: ExpansionProposalTable;
  proposal_record: ProposalRecordTable;
  strategy: StrategyTable;
  strategy_outcome: StrategyOutcomeTable;
  execution_token: ExecutionTokenTable;
  governance_log: GovernanceLogTable;
  go_live_playbook: GoLivePlaybookTable;
  operator_session: OperatorSessionTable;
  notification: NotificationTable;
  notification_delivery: NotificationDeliveryTable;
  execution_policy: ExecutionPolicyTable;
  position: PositionTable;
  position_event: PositionEventTable;
  position_exit_hold: PositionExitHoldTable;
  change_request: ChangeRequestTable;
}
