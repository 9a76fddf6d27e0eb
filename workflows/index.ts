// The workflow bundle's entry: every workflow the `warden` worker runs. The worker evaluates the bundle's
// modules again for every workflow it starts (each run gets its own), so each workflow's module is
// required when that workflow runs: a deal evaluates what a deal needs, not every workflow's schemas.
// Required, not imported with import(): a workflow starts synchronously, exactly as it did imported, so
// its handlers are there for the first task's signals and updates, and old histories replay the same.
import type * as CommandExecution from './command-execution';
import type * as ControlPlane from './control-plane';
import type * as DealExecution from './deal-execution';
import type * as ExpansionProposal from './expansion-proposal';
import type * as GoLivePlaybook from './go-live-playbook';
import type * as GovernanceCycle from './governance-cycle';
import type * as InfrastructureCanary from './infrastructure-canary';
import type * as NotificationDispatch from './notification-dispatch';
import type * as OperatorSession from './operator-session';
import type * as PolicyChange from './policy-change';
import type * as RegressionTripwire from './regression-tripwire';
import type * as ReservationSweep from './reservation-sweep';
import type * as StrategyPromotion from './strategy-promotion';
import type * as WeeklyGovernance from './weekly-governance';

/**
 * The bundler's require, resolved when webpack bundles the workflows (the SDK's bundler refuses Node's
 * own modules in workflow code, so this never reaches Node's): one of the modules above, by its path.
 */
declare const require: (module: string) => unknown;

export const commandExecution: typeof CommandExecution.commandExecution = (...args) =>
  (require('./command-execution') as typeof CommandExecution).commandExecution(...args);
export const controlPlane: typeof ControlPlane.controlPlane = (...args) =>
  (require('./control-plane') as typeof ControlPlane).controlPlane(...args);
export const dealExecution: typeof DealExecution.dealExecution = (...args) =>
  (require('./deal-execution') as typeof DealExecution).dealExecution(...args);
export const expansionProposal: typeof ExpansionProposal.expansionProposal = (...args) =>
  (require('./expansion-proposal') as typeof ExpansionProposal).expansionProposal(...args);
export const goLivePlaybook: typeof GoLivePlaybook.goLivePlaybook = (...args) =>
  (require('./go-live-playbook') as typeof GoLivePlaybook).goLivePlaybook(...args);
export const governanceCycle: typeof GovernanceCycle.governanceCycle = (...args) =>
  (require('./governance-cycle') as typeof GovernanceCycle).governanceCycle(...args);
export const infrastructureCanary: typeof InfrastructureCanary.infrastructureCanary = (...args) =>
  (require('./infrastructure-canary') as typeof InfrastructureCanary).infrastructureCanary(...args);
export const notificationDispatch: typeof NotificationDispatch.notificationDispatch = (...args) =>
  (require('./notification-dispatch') as typeof NotificationDispatch).notificationDispatch(...args);
export const operatorSession: typeof OperatorSession.operatorSession = (...args) =>
  (require('./operator-session') as typeof OperatorSession).operatorSession(...args);
export const policyChange: typeof PolicyChange.policyChange = (...args) =>
  (require('./policy-change') as typeof PolicyChange).policyChange(...args);
export const regressionTripwire: typeof RegressionTripwire.regressionTripwire = (...args) =>
  (require('./regression-tripwire') as typeof RegressionTripwire).regressionTripwire(...args);
export const reservationSweep: typeof ReservationSweep.reservationSweep = (...args) =>
  (require('./reservation-sweep') as typeof ReservationSweep).reservationSweep(...args);
export const strategyPromotion: typeof StrategyPromotion.strategyPromotion = (...args) =>
  (require('./strategy-promotion') as typeof StrategyPromotion).strategyPromotion(...args);
export const weeklyGovernance: typeof WeeklyGovernance.weeklyGovernance = (...args) =>
  (require('./weekly-governance') as typeof WeeklyGovernance).weeklyGovernance(...args);
export const weeklyGovernanceKickoff: typeof WeeklyGovernance.weeklyGovernanceKickoff = (...args) =>
  (require('./weekly-governance') as typeof WeeklyGovernance).weeklyGovernanceKickoff(...args);
