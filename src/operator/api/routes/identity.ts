import { z } from 'zod';
import { listApiKeys } from '../../../db/api-keys.repository';
import { ApprovalAudienceSchema } from '../../../domain/identity/audience';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, mintToken, ok } from './shared';

/** Who calls: API keys, the calling identity, and the approval tokens it may take to the Temporal CLI or UI. */
export function identityRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'apiKeys',
      method: 'GET',
      url: '/api-keys',
      access: 'audit:read',
      summary: 'API keys (never their secrets).',
      handle: async () => ok(await listApiKeys(db)),
    }),
    route({
      id: 'whoami',
      method: 'GET',
      url: '/whoami',
      access: 'read',
      summary: 'The identity and roles of the calling key.',
      handle: async ({ identity }) => ok(identity),
    }),
    route({
      id: 'issueApprovalToken',
      method: 'POST',
      url: '/approval-tokens',
      access: 'approval_token:issue',
      summary:
        "A short-lived signed approval token with the caller's roles, good once for one target (`<workflowId>:<action>`), for approvals sent by the Temporal CLI or UI. Answers its `wtr_…` reference: put that in the payload's `token`.",
      body: z.strictObject({ audience: ApprovalAudienceSchema }),
      handle: async ({ identity, body }) => {
        const issued = await mintToken(deps, identity, body.audience);
        return ok(
          {
            token: issued.reference,
            audience: issued.audience,
            subject: issued.subject,
            roles: issued.roles,
            expiresAt: issued.expiresAt,
          },
          201,
        );
      },
    }),
  ];
}
