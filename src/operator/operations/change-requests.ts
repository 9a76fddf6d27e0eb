import { z } from 'zod';
import { changeRequestView, listChangeRequests, readChangeRequest } from '../../db/change-requests.repository';
import { readPolicyDocument } from '../../db/policy-state.repository';
import { describeSlots } from '../../domain/change-requests/approvals';
import { diffPolicyDocuments } from '../../domain/change-requests/changes';
import { ChangeRequestIdSchema } from '../../domain/change-requests/id';
import { ChangeRequestStatusSchema, type ChangeRequestView } from '../../domain/change-requests/request';
import { ReasonSchema } from '../../domain/control-plane/types';
import { approvalAudience } from '../../domain/identity/audience';
import { type Identity, type Role, RoleSchema } from '../../domain/identity/roles';
import { safeText } from '../../domain/shared/validation';
import { policyChangeWorkflowId } from '../../../workflows/names';
import { badRequest, notFound } from '../api/http';
import { type ApiDeps, requireRole, signedFor, viaWorkflow } from '../api/routes/shared';
import { operation } from './operation';
import { readPolicySource } from './policy-file';
import { requesterToken } from './submit-changes';

// `warden change list|show|approve|reject|edit|cancel`: a change request through its workflow
// (src/client/change-requests.ts). The workflow holds the rules (no self-approval, roles, revoked
// approvals on an edit); the caller's key says who acts and in which role.

/** A request as the CLI prints it and the API answers: the view, and one line on where it stands. */
export function withStanding(view: ChangeRequestView): ChangeRequestView & { message: string } {
  const standing =
    view.status === 'pending'
      ? `pending approval: needs ${describeSlots(view.missing)}, by someone other than ${view.requestedBy.name}`
      : `${view.status}${view.detail ? `: ${view.detail}` : ''}`;
  return { ...view, message: `change request ${view.id}: ${standing}` };
}

const what = (id: string) => `change request ${id}`;
const IdInput = { id: ChangeRequestIdSchema };

async function showRequest(deps: ApiDeps, id: string): Promise<ChangeRequestView> {
  const record = await readChangeRequest(deps.db, id);
  if (!record) throw notFound(`${what(id)} not found`);
  // The workflow's own view once it runs (refused messages, live approvals); the record after it closed.
  return deps.warden.changeRequestStatus(id).catch(() => changeRequestView(record));
}

/** The role a key decides in: the one named (which it must hold), or its only role. */
export function decidingRole(identity: Identity, role: Role | undefined): Role {
  if (role !== undefined) return requireRole(identity, role);
  if (identity.roles.length === 1) return identity.roles[0]!;
  throw badRequest(`body.role: ${identity.name} holds ${identity.roles.join(', ')}; name the one you decide in`);
}

const decision = (deps: ApiDeps, identity: Identity, id: string, action: 'approve' | 'reject') =>
  signedFor(deps, identity, approvalAudience(policyChangeWorkflowId(id), action));

export const changeRequestOperations = {
  'change.list': operation({
    permission: 'read',
    summary: 'Change requests, newest first, optionally by status.',
    input: z.strictObject({
      status: ChangeRequestStatusSchema.optional(),
      limit: z.number().int().min(1).max(500).default(50),
    }),
    run: async ({ db }, _identity, filter) => (await listChangeRequests(db, filter)).map(changeRequestView),
  }),
  'change.show': operation({
    permission: 'read',
    summary: 'One change request: its changes (before → after, why), approvals given and missing, status.',
    input: z.strictObject(IdInput),
    run: async (deps, _identity, { id }) => withStanding(await showRequest(deps, id)),
  }),
  'change.approve': operation({
    permission: 'change:decide',
    summary: 'Approve a change request in one of your roles (never your own request).',
    input: z.strictObject({
      ...IdInput,
      role: RoleSchema.optional(),
      comment: safeText({ max: 2000, multiline: true }).optional(),
    }),
    run: async (deps, identity, { id, role: asked, comment }) => {
      const role = decidingRole(identity, asked);
      const token = await decision(deps, identity, id, 'approve');
      const payload = { actor: identity.name, role, ...(comment ? { comment } : {}), ...token };
      return withStanding(await viaWorkflow(what(id), () => deps.warden.approveChangeRequest(id, payload)));
    },
  }),
  'change.reject': operation({
    permission: 'change:decide',
    summary: 'Reject a change request, with the reason.',
    input: z.strictObject({ ...IdInput, role: RoleSchema.optional(), reason: ReasonSchema }),
    run: async (deps, identity, { id, role: asked, reason }) => {
      const role = decidingRole(identity, asked);
      const token = await decision(deps, identity, id, 'reject');
      const payload = { actor: identity.name, role, reason, ...token };
      return withStanding(await viaWorkflow(what(id), () => deps.warden.rejectChangeRequest(id, payload)));
    },
  }),
  'change.edit': operation({
    permission: 'change:request',
    summary:
      "Replace a pending request's changes with a policy file's (its own requester only; approvals are revoked).",
    input: z.strictObject({
      ...IdInput,
      file: z.string().min(1).max(255).default('policies.yaml'),
      text: z.string().max(256 * 1024),
      reason: ReasonSchema.optional(),
    }),
    run: async (deps, identity, { id, file, text, reason }) => {
      const changes = diffPolicyDocuments(await readPolicyDocument(deps.db), readPolicySource({ file, text }));
      if (changes.length === 0) throw badRequest(`${file}: matches the running state; nothing to propose`);
      const token = await requesterToken(deps, identity, id);
      const payload = { actor: identity.name, changes, ...(reason ? { reason } : {}), ...token };
      return withStanding(await viaWorkflow(what(id), () => deps.warden.editChangeRequest(id, payload)));
    },
  }),
  'change.cancel': operation({
    permission: 'change:request',
    summary: 'Withdraw your own pending change request.',
    input: z.strictObject({ ...IdInput, reason: ReasonSchema }),
    run: async (deps, identity, { id, reason }) =>
      withStanding(
        await viaWorkflow(what(id), () => deps.warden.cancelChangeRequest(id, { actor: identity.name, reason })),
      ),
  }),
};
