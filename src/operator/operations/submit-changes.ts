import { ChangeRequestRefusedError, newChangeRequestId } from '../../client';
import { type ApprovalSlot, describeSlots } from '../../domain/change-requests/approvals';
import type { ChangeRequestView, ProposedChange } from '../../domain/change-requests/request';
import { approvalAudience } from '../../domain/identity/audience';
import type { Identity } from '../../domain/identity/roles';
import { policyChangeWorkflowId } from '../../../workflows/names';
import { conflict, type Reply } from '../api/http';
import { type ApiDeps, signedFor } from '../api/routes/shared';

// Every setter of governed state (the CLI's and the API's) submits its change as a change request
// (invariant 8): what only tightens applies at once, the rest waits for others' approval.

/** What a setter answers: the request, whether it applied, and who must approve when it did not. */
export interface ChangeSubmitted {
  changeRequestId: string;
  status: ChangeRequestView['status'];
  /** True once applied: a request that only tightens applies at once. */
  applied: boolean;
  changes: {
    kind: string;
    target: string;
    direction: 'tighten' | 'loosen';
    why: string[];
    before: unknown;
    after: unknown;
  }[];
  /** The approvals it still needs (none once applied), each slot one person in one of its roles. */
  missing: ApprovalSlot[];
  /** One line for people: `applied at once …` or `pending approval: …`. */
  message: string;
}

export function describeSubmitted(view: ChangeRequestView): ChangeSubmitted {
  const applied = view.status === 'applied';
  const waiting = view.status === 'pending';
  const message = applied
    ? `applied at once (it only tightens): change request ${view.id}`
    : waiting
      ? `pending approval: change request ${view.id} needs ${describeSlots(view.missing)}, by someone other than ${view.requestedBy.name}` +
        ` (warden change approve ${view.id} --role ROLE)`
      : `change request ${view.id} is ${view.status}${view.detail ? `: ${view.detail}` : ''}`;
  return {
    changeRequestId: view.id,
    status: view.status,
    applied,
    changes: view.changes.map(({ kind, target, direction, why, before, after }) => ({
      kind,
      target,
      direction,
      why,
      before,
      after,
    })),
    missing: view.missing,
    message,
  };
}

/** The requester's token for `policy-change-<id>:request` (signed approvals), so nobody opens one in another's name. */
export const requesterToken = (deps: ApiDeps, identity: Identity, id: string) =>
  signedFor(deps, identity, approvalAudience(policyChangeWorkflowId(id), 'request'));

/** Opens one change request as `identity` (under `id` when the caller needs it first); a refusal (nothing to change, a bad field) is a 409 naming it. */
export async function submitChanges(
  deps: ApiDeps,
  identity: Identity,
  changes: ProposedChange[],
  reason: string,
  id = newChangeRequestId(),
): Promise<ChangeSubmitted> {
  try {
    const view = await deps.warden.submitPolicyChanges({
      id,
      requestedBy: { name: identity.name, roles: identity.roles },
      changes,
      reason,
      ...(await requesterToken(deps, identity, id)),
    });
    return describeSubmitted(view);
  } catch (error) {
    if (error instanceof ChangeRequestRefusedError) throw conflict(error.message, { changeRequestId: id });
    throw error;
  }
}

/** A setter over HTTP: 200 once applied (it only tightened), 202 while its change request waits for approvals. */
export function submittedReply(submitted: ChangeSubmitted, body: Record<string, unknown> = {}): Reply {
  return { status: submitted.applied ? 200 : 202, body: { ...body, changeRequest: submitted } };
}
