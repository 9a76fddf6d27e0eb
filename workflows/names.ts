// Workflow types and fixed workflow ids, declared once for the worker's
// clients, the CLI, the API and schedules. They are public names: operators
// type them into the raw `temporal` CLI and histories carry them, so the
// values never change. Free of workflow code, so clients import it as is.
import { changeRequestWorkflowId } from '../src/domain/change-requests/id';
import { promotionProposalId } from '../src/domain/strategy/messages';
import type { MaturityLevel } from '../src/domain/strategy/rules';
import type * as workflows from './index';

/** A type is the name a workflow is exported under from the bundle entry: checked here at compile time. */
type WorkflowType = keyof typeof workflows;

export const COMMAND_EXECUTION_WORKFLOW_TYPE = 'commandExecution' satisfies WorkflowType;
export const CONTROL_PLANE_WORKFLOW_TYPE = 'controlPlane' satisfies WorkflowType;
export const DEAL_EXECUTION_WORKFLOW_TYPE = 'dealExecution' satisfies WorkflowType;
export const EXPANSION_PROPOSAL_WORKFLOW_TYPE = 'expansionProposal' satisfies WorkflowType;
export const GO_LIVE_PLAYBOOK_WORKFLOW_TYPE = 'goLivePlaybook' satisfies WorkflowType;
export const GOVERNANCE_CYCLE_WORKFLOW_TYPE = 'governanceCycle' satisfies WorkflowType;
export const WEEKLY_GOVERNANCE_WORKFLOW_TYPE = 'weeklyGovernance' satisfies WorkflowType;
export const WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_TYPE = 'weeklyGovernanceKickoff' satisfies WorkflowType;
export const INFRASTRUCTURE_CANARY_WORKFLOW_TYPE = 'infrastructureCanary' satisfies WorkflowType;
export const NOTIFICATION_DISPATCH_WORKFLOW_TYPE = 'notificationDispatch' satisfies WorkflowType;
export const OPERATOR_SESSION_WORKFLOW_TYPE = 'operatorSession' satisfies WorkflowType;
export const POLICY_CHANGE_WORKFLOW_TYPE = 'policyChange' satisfies WorkflowType;
export const REGRESSION_TRIPWIRE_WORKFLOW_TYPE = 'regressionTripwire' satisfies WorkflowType;
export const RESERVATION_SWEEP_WORKFLOW_TYPE = 'reservationSweep' satisfies WorkflowType;
export const STRATEGY_PROMOTION_WORKFLOW_TYPE = 'strategyPromotion' satisfies WorkflowType;

/** The task queue the `warden` worker polls unless configured otherwise. */
export const DEFAULT_TASK_QUEUE = 'warden';

// Singletons: one run each, found by id alone.
export const CONTROL_PLANE_WORKFLOW_ID = 'warden-control-plane';
export const NOTIFICATION_DISPATCH_WORKFLOW_ID = 'warden-notification-dispatch';
export const GO_LIVE_PLAYBOOK_WORKFLOW_ID = 'go-live-playbook';
/** Scheduled watchdogs: the schedule and the workflow runs it starts share the id. */
export const REGRESSION_TRIPWIRE_WORKFLOW_ID = 'warden-regression-tripwire';
export const INFRASTRUCTURE_CANARY_WORKFLOW_ID = 'warden-infrastructure-canary';
export const GOVERNANCE_CYCLE_WORKFLOW_ID = 'warden-governance-cycle';
/** The Monday Schedule's run, which starts the week's `weekly-governance-<ISO week>` (weeklyGovernanceWorkflowId). */
export const WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_ID = 'warden-weekly-governance-kickoff';
export const RESERVATION_SWEEP_WORKFLOW_ID = 'warden-reservation-sweep';

// One run per entity: the id is derived from the entity's own, so a second start is refused by Temporal.
export const dealWorkflowId = (dealId: string) => `deal-${dealId}`;
export const commandWorkflowId = (commandId: string) => `command-${commandId}`;
/** One change request (its id: `cr-<12 hex>` from clients, deterministic from the Friday cycle). */
export const policyChangeWorkflowId = (changeRequestId: string) => changeRequestWorkflowId(changeRequestId);
/** One promotion proposal per strategy and level (also the key of Warden's promotion record). */
export const promotionWorkflowId = (strategyId: string, to: MaturityLevel) => promotionProposalId(strategyId, to);

// One workflow id per operator: Temporal itself then keeps an operator to one
// active session, and `warden session end` finds it by name alone.
export const operatorSessionWorkflowId = (operator: string) => `operator-session-${operator}`;
