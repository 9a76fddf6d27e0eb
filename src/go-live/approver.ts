import { verifyApprovalToken } from '../identity/approval-token';
import { RELEASE_APPROVER_ROLES, type Role } from '../identity/roles';
import type { GoLiveSettings } from './settings';

export type ApproverCheck = { ok: true; role: Role; token?: { tokenId: string; subject: string } } | { ok: false; problem: string };

/**
 * Who may sign off a launch. Unsigned mode takes the role the request claims
 * (Temporal's own authorizer decides who may send it at all); signed mode
 * wants a valid approval token issued to the actor, for this environment,
 * carrying that role. Single use is checked against the database by the caller.
 */
export function checkApprover(
  request: { actor: string; role?: string; token?: string },
  settings: Pick<GoLiveSettings, 'approvals' | 'environment'>,
  now = new Date(),
): ApproverCheck {
  const role = RELEASE_APPROVER_ROLES.find((r) => r === request.role);
  if (role === undefined) return { ok: false, problem: `role: must be an approver role (${RELEASE_APPROVER_ROLES.join(', ')})` };
  if (!settings.approvals.signed) return { ok: true, role };
  if (request.token === undefined) return { ok: false, problem: 'token: signed approvals are on, so a sign-off needs an approval token' };
  if (settings.approvals.signingKey === undefined) return { ok: false, problem: 'token: signed approvals are on but no signing key is configured' };
  const check = verifyApprovalToken(request.token, settings.approvals.signingKey, settings.environment, now);
  if (!check.ok) return { ok: false, problem: check.reason };
  if (check.claims.sub !== request.actor) return { ok: false, problem: `token: issued to ${check.claims.sub}, not ${request.actor}` };
  if (!check.claims.roles.includes(role)) return { ok: false, problem: `token: does not carry role ${role}` };
  return { ok: true, role, token: { tokenId: check.claims.jti, subject: check.claims.sub } };
}
