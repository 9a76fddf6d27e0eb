/** Public names: operators use them with the raw `temporal` CLI. */
export const CONTROL_PLANE_WORKFLOW_ID = 'warden-control-plane';
export const CONTROL_PLANE_WORKFLOW_TYPE = 'controlPlane';
export const DEFAULT_TASK_QUEUE = 'warden';
