import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  approveChangeUpdate,
  cancelChangeUpdate,
  changeRequestOpenedUpdate,
  changeRequestStatusQuery,
  editChangeUpdate,
  rejectChangeUpdate,
} from '../../workflows/messages';
import { POLICY_CHANGE_WORKFLOW_TYPE, policyChangeWorkflowId } from '../../workflows/names';
import type { policyChange } from '../../workflows/policy-change';
import {
  type ApproveChangePayload,
  ApproveChangePayloadSchema,
  type CancelChangePayload,
  CancelChangePayloadSchema,
  type ChangeRequestView,
  type EditChangePayload,
  EditChangePayloadSchema,
  PolicyChangeStartSchema,
  type ProposedChange,
  type RejectChangePayload,
  RejectChangePayloadSchema,
} from '../domain/change-requests/request';
import type { Role } from '../domain/identity/roles';
import { validateRequest } from '../domain/shared/validation';
import { AlreadyRunningError } from './errors';
import type { Target } from './target';

// Change requests (issue 14): every change to governed state is one
// `policyChange` workflow, `policy-change-<id>`. Temporal only: Warden's
// workflow reads the current state and records the request.

/** A change request's id as clients make them: `cr-` and 12 hex digits. */
export const newChangeRequestId = (): string => `cr-${randomBytes(6).toString('hex')}`;

export interface PolicyChangeSubmission {
  /** Chosen by the caller (deterministic ids, or one a token was minted for); `cr-<12 hex>` otherwise. */
  id?: string;
  requestedBy: { name: string; roles: Role[] };
  /** What each change should make the state: Warden reads what it replaces (`before`) itself. */
  changes: ProposedChange[];
  reason: string;
  /** Not before (ISO 8601): an approved request applies then. */
  applyAt?: string;
  expiresInHours?: number;
  /** The requester's signed token for `policy-change-<id>:request` (needed to loosen with signed approvals on). */
  token?: string;
}

/** Warden refused to record the request (the message names the field); nothing changed. */
export class ChangeRequestRefusedError extends Error {
  override name = 'ChangeRequestRefusedError';
  constructor(
    readonly id: string,
    readonly problem: string,
  ) {
    super(`change request ${id} refused: ${problem}`);
  }
}

/**
 * Opens a change request and answers once Warden has recorded it: each change
 * with its before, after and direction, and the approvals it needs. A request
 * that only tightens has applied by then (status `applied`, or `approved`
 * until its apply time).
 */
export async function submitPolicyChanges(target: Target, input: PolicyChangeSubmission): Promise<ChangeRequestView> {
  const start = validateRequest(
    PolicyChangeStartSchema,
    { ...input, id: input.id ?? newChangeRequestId() },
    'change request',
  );
  const workflowId = policyChangeWorkflowId(start.id);
  let handle;
  try {
    handle = await target.client.workflow.start<typeof policyChange>(POLICY_CHANGE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: target.taskQueue,
      args: [start],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Change request ${start.id} by ${start.requestedBy.name}: ${start.reason}`.slice(0, 400),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      throw new AlreadyRunningError(`change request ${start.id} already exists (workflow ${workflowId})`);
    throw error;
  }
  const view = await handle.executeUpdate(changeRequestOpenedUpdate);
  if (view.status === 'refused') throw new ChangeRequestRefusedError(start.id, view.detail ?? 'refused');
  return view;
}

const handleOf = (target: Target, id: string) => target.client.workflow.getHandle(policyChangeWorkflowId(id));

/** An approval; a refusal (self-approval, a role not needed, a bad token) fails with WorkflowUpdateFailedError naming it. */
export function approveChangeRequest(
  target: Target,
  id: string,
  payload: ApproveChangePayload,
): Promise<ChangeRequestView> {
  const parsed = validateRequest(ApproveChangePayloadSchema, payload, 'approval');
  return handleOf(target, id).executeUpdate(approveChangeUpdate, { args: [parsed] });
}

export function rejectChangeRequest(
  target: Target,
  id: string,
  payload: RejectChangePayload,
): Promise<ChangeRequestView> {
  const parsed = validateRequest(RejectChangePayloadSchema, payload, 'rejection');
  return handleOf(target, id).executeUpdate(rejectChangeUpdate, { args: [parsed] });
}

/** The requester's new changes: every approval given so far is revoked. */
export function editChangeRequest(target: Target, id: string, payload: EditChangePayload): Promise<ChangeRequestView> {
  const parsed = validateRequest(EditChangePayloadSchema, payload, 'edit');
  return handleOf(target, id).executeUpdate(editChangeUpdate, { args: [parsed] });
}

/** The requester withdraws the request. */
export function cancelChangeRequest(
  target: Target,
  id: string,
  payload: CancelChangePayload,
): Promise<ChangeRequestView> {
  const parsed = validateRequest(CancelChangePayloadSchema, payload, 'cancel');
  return handleOf(target, id).executeUpdate(cancelChangeUpdate, { args: [parsed] });
}

export function changeRequestStatus(target: Target, id: string): Promise<ChangeRequestView> {
  return handleOf(target, id).query(changeRequestStatusQuery);
}
