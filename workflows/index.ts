// The workflow bundle's entry: every workflow the `warden` worker runs.
export { commandExecution } from './command-execution';
export { controlPlane } from './control-plane';
export { dealExecution } from './deal-execution';
export { expansionProposal } from './expansion-proposal';
export { governanceCycle } from './governance-cycle';
export { infrastructureCanary } from './infrastructure-canary';
export { regressionTripwire } from './regression-tripwire';
export { strategyPromotion } from './strategy-promotion';
