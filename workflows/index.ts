// The workflow bundle's entry: every workflow the `warden` worker runs.
export { controlPlane } from './control-plane';
export { dealExecution } from './deal-execution';
export { infrastructureCanary } from './infrastructure-canary';
export { regressionTripwire } from './regression-tripwire';
