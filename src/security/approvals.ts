import { isTokenReference, verifyApprovalToken } from './approval-tokens';
import type { ApprovalPublicKey } from './approval-keys';
import type { ApprovalClaimCheck } from '../domain/identity/approval-check';
import type { Role } from '../domain/identity/roles';

export interface ApprovalSettings {
  environment: string;
  approvals: { signed: boolean; publicKeys: readonly ApprovalPublicKey[] };
}

export type { ApprovalClaimCheck };

/** Finds the JWS a `wtr_…` reference stands for (the API stored it when it signed it); undefined if none. */
export type TokenResolver = (reference: string) => Promise<string | undefined>;

const TOKEN_REQUIRED =
  'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens';

/**
 * Who approves, in which role. Without a token the role the request names
 * counts (Temporal's own authorizer decides who may send it at all); with one,
 * the token's subject and roles count, and with signed approvals on a token is
 * required. A token is a `wtr_…` reference, resolved to the JWS stored for it,
 * or the JWS itself; either way its signature, environment, expiry and
 * audience (`<workflowId>:<action>`, the exact target) are checked here.
 * Single use is the caller's to enforce, in its own transaction
 * (spendApprovalToken).
 */
export async function checkApprovalClaim(
  request: { actor: string; role?: string | undefined; token?: string | undefined },
  acceptable: readonly Role[],
  settings: ApprovalSettings,
  target: { audience: string; resolve: TokenResolver; now?: Date },
): Promise<ApprovalClaimCheck> {
  const named = request.role === undefined ? undefined : acceptable.find((r) => r === request.role);
  if (request.role !== undefined && named === undefined)
    return { ok: false, problem: `role: ${request.role} may not approve this (acceptable: ${acceptable.join(', ')})` };
  if (request.token === undefined) {
    if (settings.approvals.signed) return { ok: false, problem: TOKEN_REQUIRED };
    if (named === undefined)
      return { ok: false, problem: `role: name the role you approve in (${acceptable.join(', ')})` };
    return { ok: true, actor: request.actor, role: named };
  }
  if (settings.approvals.publicKeys.length === 0)
    return { ok: false, problem: 'token: this environment has no approval public keys (WARDEN_APPROVAL_PUBLIC_KEYS)' };
  const jws = isTokenReference(request.token) ? await target.resolve(request.token) : request.token;
  if (jws === undefined) return { ok: false, problem: 'token: no approval token has this reference' };
  const check = await verifyApprovalToken(jws, {
    publicKeys: settings.approvals.publicKeys,
    environment: settings.environment,
    audience: target.audience,
    ...(target.now ? { now: target.now } : {}),
  });
  if (!check.ok) return { ok: false, problem: check.reason };
  const { claims } = check;
  if (claims.sub !== request.actor)
    return { ok: false, problem: `actor: ${request.actor} is not the token's subject (${claims.sub})` };
  const role = named ?? acceptable.find((r) => claims.roles.includes(r));
  if (role === undefined || !claims.roles.includes(role))
    return { ok: false, problem: `role: the token does not grant ${named ?? acceptable.join(' or ')}` };
  return { ok: true, actor: claims.sub, role, token: { tokenId: claims.jti, subject: claims.sub } };
}
