import { z } from 'zod';
import { ChangeRequestRefusedError, newChangeRequestId } from '../../../client';
import { ChangeRequestIdSchema } from '../../../domain/change-requests/id';
import {
  ChangeRequestStatusSchema,
  MAX_EXPIRY_HOURS,
  ProposedChangeSchema,
} from '../../../domain/change-requests/request';
import { ReasonSchema } from '../../../domain/control-plane/types';
import { type Identity, type Role, RoleSchema } from '../../../domain/identity/roles';
import { safeText } from '../../../domain/shared/validation';
import { changeRequestOperations, withStanding } from '../../operations/change-requests';
import { runOperation } from '../../operations/operation';
import { requesterToken } from '../../operations/submit-changes';
import { badRequest, conflict, route, type RouteSpec } from '../http';
import { type ApiDeps, ok, viaWorkflow } from './shared';

const Params = z.strictObject({ id: ChangeRequestIdSchema });
const Changes = z.array(ProposedChangeSchema).min(1, 'must propose at least one change').max(200);

/** The role a key decides in: the one named, or its only role. The workflow judges whether the request needs it. */
function decidingRole(identity: Identity, role: Role | undefined): Role {
  if (role !== undefined) return role;
  if (identity.roles.length === 1) return identity.roles[0]!;
  throw badRequest(`body.role: ${identity.name} holds ${identity.roles.join(', ')}; name the one you decide in`);
}

/**
 * Change requests: every change to governed state. The requester is the key's
 * identity; the workflow holds the rules (tighten at once, loosen with others'
 * approval, no self-approval, an edit revokes approvals). The API signs each
 * decision for its exact target when approvals are signed.
 */
export function changeRequestRoutes(deps: ApiDeps): RouteSpec[] {
  const ops = changeRequestOperations;
  return [
    route({
      id: 'changeRequests',
      method: 'GET',
      url: '/change-requests',
      access: 'read',
      summary: 'Change requests, newest first, optionally of one status.',
      query: z.strictObject({
        status: ChangeRequestStatusSchema.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      }),
      handle: async ({ identity, query }) => ok(await runOperation(ops['change.list'], deps, identity, query)),
    }),
    route({
      id: 'changeRequest',
      method: 'GET',
      url: '/change-requests/:id',
      access: 'read',
      summary: 'One change request: each change before → after and its direction, approvals given and missing.',
      params: Params,
      handle: async ({ identity, params }) => ok(await runOperation(ops['change.show'], deps, identity, params)),
    }),
    route({
      id: 'openChangeRequest',
      method: 'POST',
      url: '/change-requests',
      access: 'change:request',
      summary:
        'Open a change request as the caller: what only tightens applies at once (201, status applied); the rest waits for approvals.',
      body: z.strictObject({
        changes: Changes,
        reason: ReasonSchema,
        applyAt: z.iso.datetime({ offset: true }).optional(),
        expiresInHours: z.number().int().min(1).max(MAX_EXPIRY_HOURS).optional(),
      }),
      handle: async ({ identity, body }) => {
        const id = newChangeRequestId();
        try {
          const view = await deps.warden.submitPolicyChanges({
            id,
            requestedBy: { name: identity.name, roles: identity.roles },
            ...body,
            ...(await requesterToken(deps, identity, id)),
          });
          return ok(withStanding(view), 201);
        } catch (error) {
          if (error instanceof ChangeRequestRefusedError) throw conflict(error.message, { changeRequestId: id });
          throw error;
        }
      },
    }),
    route({
      id: 'approveChangeRequest',
      method: 'POST',
      url: '/change-requests/:id/approve',
      access: 'change:decide',
      summary: 'Approve in one of your roles (never your own request); 409 names why an approval does not count.',
      params: Params,
      body: z.strictObject({
        role: RoleSchema.optional(),
        comment: safeText({ max: 2000, min: 0, multiline: true }).optional(),
      }),
      handle: async ({ identity, params, body }) =>
        ok(
          await runOperation(ops['change.approve'], deps, identity, {
            id: params.id,
            role: decidingRole(identity, body.role),
            ...(body.comment ? { comment: body.comment } : {}),
          }),
        ),
    }),
    route({
      id: 'rejectChangeRequest',
      method: 'POST',
      url: '/change-requests/:id/reject',
      access: 'change:decide',
      summary: 'Reject, with the reason (anyone in a role the request needs, other than its requester).',
      params: Params,
      body: z.strictObject({ role: RoleSchema.optional(), reason: ReasonSchema }),
      handle: async ({ identity, params, body }) =>
        ok(
          await runOperation(ops['change.reject'], deps, identity, {
            id: params.id,
            role: decidingRole(identity, body.role),
            reason: body.reason,
          }),
        ),
    }),
    route({
      id: 'editChangeRequest',
      method: 'POST',
      url: '/change-requests/:id/edit',
      access: 'change:request',
      summary: "Replace a pending request's changes (its requester only): every approval given so far is revoked.",
      params: Params,
      body: z.strictObject({ changes: Changes, reason: ReasonSchema.optional() }),
      handle: async ({ identity, params, body }) => {
        const token = await requesterToken(deps, identity, params.id);
        const payload = {
          actor: identity.name,
          changes: body.changes,
          ...(body.reason ? { reason: body.reason } : {}),
          ...token,
        };
        return ok(
          withStanding(
            await viaWorkflow(`change request ${params.id}`, () => deps.warden.editChangeRequest(params.id, payload)),
          ),
        );
      },
    }),
    route({
      id: 'cancelChangeRequest',
      method: 'POST',
      url: '/change-requests/:id/cancel',
      access: 'change:request',
      summary: 'Withdraw your own request before it applies.',
      params: Params,
      body: z.strictObject({ reason: ReasonSchema }),
      handle: async ({ identity, params, body }) =>
        ok(await runOperation(ops['change.cancel'], deps, identity, { id: params.id, reason: body.reason })),
    }),
  ];
}
