/** Public names: operators use them with the raw `temporal` CLI. */
export const GO_LIVE_PLAYBOOK_WORKFLOW_ID = 'go-live-playbook';
export const GO_LIVE_PLAYBOOK_WORKFLOW_TYPE = 'goLivePlaybook';
export const OPERATOR_SESSION_WORKFLOW_TYPE = 'operatorSession';

// One workflow id per operator: Temporal itself then keeps an operator to one
// active session, and `warden session end` finds it by name alone.
export const operatorSessionWorkflowId = (operator: string) => `operator-session-${operator}`;
