// The workflow bundle's entry: every workflow the `warden` worker runs.
export { controlPlane } from './control-plane';
export { dealExecution } from './deal-execution';
