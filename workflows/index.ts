// The workflow bundle's entry: every workflow the `warden` worker runs.
export { commandExecution } from './command-execution';
export { controlPlane } from './control-plane';
export { dealExecution } from './deal-execution';
export { expansionProposal } from './expansion-proposal';
export { goLivePlaybook } from './go-live-playbook';
export { governanceCycle } from './governance-cycle';
export { infrastructureCanary } from './infrastructure-canary';
export { notificationDispatch } from './notification-dispatch';
export { operatorSession } from './operator-session';
export { policyChange } from './policy-change';
export { regressionTripwire } from './regression-tripwire';
export { reservationSweep } from './reservation-sweep';
export { strategyPromotion } from './strategy-promotion';
export { weeklyGovernance, weeklyGovernanceKickoff } from './weekly-governance';
