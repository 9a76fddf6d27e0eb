import { z } from 'zod';

/**
 * A change request's id: its workflow is `policy-change-<id>`. Clients generate `cr-<12 hex>`, the Friday
 * cycle a deterministic id. Its own module so the control plane's payload schemas can carry it without
 * importing the change catalogue (which imports them).
 */
export const ChangeRequestIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a change request id such as cr-0123456789ab');
export type ChangeRequestId = z.infer<typeof ChangeRequestIdSchema>;

/** A request's workflow id (workflows/names.ts re-exports it as policyChangeWorkflowId). */
export const CHANGE_REQUEST_WORKFLOW_PREFIX = 'policy-change-';
export const changeRequestWorkflowId = (id: string) => `${CHANGE_REQUEST_WORKFLOW_PREFIX}${id}`;
