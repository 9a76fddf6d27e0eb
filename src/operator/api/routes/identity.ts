import { z } from 'zod';
import { listApiKeys } from '../../../db/api-keys.repository';
import { recordAuditEvent } from '../../../db/audit.repository';
import { AuditKind } from '../../../domain/audit/kinds';
import { ApiError, route, type RouteSpec } from '../http';
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
        "A short-lived signed approval token with the caller's roles, for approvals sent by the Temporal CLI or UI.",
      body: z.strictObject({}),
      handle: async ({ identity }) => {
        const issued = mintToken(deps, identity);
        if (!issued)
          throw new ApiError(
            409,
            'not_configured',
            'this environment has no approval signing key (WARDEN_APPROVAL_SIGNING_KEY)',
          );
        await recordAuditEvent(db, {
          actor: identity.name,
          kind: AuditKind.approvalToken.issued,
          subject: `approval_token:${issued.claims.jti}`,
          details: {
            roles: issued.claims.roles,
            expiresAt: new Date(issued.claims.exp * 1000).toISOString(),
            keyId: identity.keyId,
          },
        });
        return ok(
          {
            token: issued.token,
            subject: issued.claims.sub,
            roles: issued.claims.roles,
            expiresAt: new Date(issued.claims.exp * 1000).toISOString(),
          },
          201,
        );
      },
    }),
  ];
}
