import type { Migration } from 'kysely';
import * as controlPlane from './2026_11_24_0001_control_plane';
import * as governedDeals from './2026_11_24_0002_governed_deals';
import * as watchdogs from './2026_11_24_0003_watchdogs';
import * as autonomy from './2026_11_24_0004_autonomy';
import * as strategyGate from './2026_11_24_0005_strategy_gate';
import * as operatorSurface from './2026_11_24_0006_operator_surface';
import * as notifications from './2026_11_24_0007_notifications';
import * as goLive from './2026_11_24_0008_go_live';
import * as retryAnswers from './2026_12_01_0001_retry_answers';
import * as dealClaims from './2026_12_01_0002_deal_claims';
import * as executionPolicies from './2026_12_01_0003_execution_policies';
import * as commandPolicies from './2026_12_01_0004_command_policies';
import * as proposalRecords from './2026_12_01_0005_proposal_records';
import * as restrictionPriorState from './2026_12_01_0006_restriction_prior_state';
import * as changeRequests from './2026_12_02_0001_change_requests';
import * as pendingApiKeys from './2026_12_02_0002_pending_api_keys';
import * as approvalTokenRefs from './2026_12_02_0003_approval_token_refs';
import * as dealAdmission from './2026_12_02_0030_deal_admission';
import * as rateLimitWindows from './2026_12_02_0040_rate_limit_windows';
import * as auditChains from './2026_12_02_0050_audit_chains';
import * as riskLedgerStripes from './2026_12_02_0060_risk_ledger_stripes';
import * as reducingMode from './2026_12_03_0010_reducing_mode';
import * as tripwireBaselineSince from './2026_12_03_0020_tripwire_baseline_since';

/** Every migration, by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_control_plane': controlPlane,
  '2026_11_24_0002_governed_deals': governedDeals,
  '2026_11_24_0003_watchdogs': watchdogs,
  '2026_11_24_0004_autonomy': autonomy,
  '2026_11_24_0005_strategy_gate': strategyGate,
  '2026_11_24_0006_operator_surface': operatorSurface,
  '2026_11_24_0007_notifications': notifications,
  '2026_11_24_0008_go_live': goLive,
  '2026_12_01_0001_retry_answers': retryAnswers,
  '2026_12_01_0002_deal_claims': dealClaims,
  '2026_12_01_0003_execution_policies': executionPolicies,
  '2026_12_01_0004_command_policies': commandPolicies,
  '2026_12_01_0005_proposal_records': proposalRecords,
  '2026_12_01_0006_restriction_prior_state': restrictionPriorState,
  '2026_12_02_0001_change_requests': changeRequests,
  '2026_12_02_0002_pending_api_keys': pendingApiKeys,
  '2026_12_02_0003_approval_token_refs': approvalTokenRefs,
  '2026_12_02_0030_deal_admission': dealAdmission,
  '2026_12_02_0040_rate_limit_windows': rateLimitWindows,
  '2026_12_02_0050_audit_chains': auditChains,
  '2026_12_02_0060_risk_ledger_stripes': riskLedgerStripes,
  '2026_12_03_0010_reducing_mode': reducingMode,
  '2026_12_03_0020_tripwire_baseline_since': tripwireBaselineSince,
};
