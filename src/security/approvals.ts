import { verifyApprovalToken } from './approval-tokens';
import type { ApprovalClaimCheck } from '../domain/identity/approval-check';
import type { Role } from '../domain/identity/roles';

export interface ApprovalSettings {
  environment: string;
  approvals: { signed: boolean; signingKey: string | undefined };
}

export type { ApprovalClaimCheck };

/**
 * Who approves, in which role. Without a token the role the request names
 * counts (Temporal's own authorizer decides who may send it at all); with one,
 * the token's subject and roles count, and with signed approvals on a token is
 * required. Single use is the caller's to enforce, in its own transaction
 * (spendApprovalToken).
 */
export function checkApprovalClaim(
  request: { actor: string; role?: string | undefined; token?: string | undefined },
  acceptable: readonly Role[],
  settings: ApprovalSettings,
  now = new Date(),
): ApprovalClaimCheck {
  const named = request.role === undefined ? undefined : acceptable.find((r) => r === request.role);
  if (request.role !== undefined && named === undefined)
    return { ok: false, problem: `role: ${request.role} may not approve this (acceptable: ${acceptable.join(', ')})` };
  if (request.token === undefined) {
    if (settings.approvals.signed)
      return {
        ok: false,
        problem:
          'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens',
      };
    if (named === undefined)
      return { ok: false, problem: `role: name the role you approve in (${acceptable.join(', ')})` };
    return { ok: true, actor: request.actor, role: named };
  }
  if (settings.approvals.signingKey === undefined)
    return { ok: false, problem: 'token: this environment has no approval signing key (WARDEN_APPROVAL_SIGNING_KEY)' };
  const check = verifyApprovalToken(request.token, settings.approvals.signingKey, settings.environment, now);
  if (!check.ok) return { ok: false, problem: check.reason };
  const { claims } = check;
  if (claims.sub !== request.actor)
    return { ok: false, problem: `actor: ${request.actor} is not the token's subject (${claims.sub})` };
  const role = named ?? acceptable.find((r) => claims.roles.includes(r));
  if (role === undefined || !claims.roles.includes(role))
    return { ok: false, problem: `role: the token does not grant ${named ?? acceptable.join(' or ')}` };
  return { ok: true, actor: claims.sub, role, token: { tokenId: claims.jti, subject: claims.sub } };
}
