import { type ApprovalClaimCheck, checkApprovalClaim } from './approvals';
import { RELEASE_APPROVER_ROLES } from '../domain/identity/roles';
import type { GoLiveSettings } from '../config/go-live-settings';

export type ApproverCheck = ApprovalClaimCheck;

/**
 * Who may sign off a launch: an approver role, by token when signed approvals are on.
 * In src/security, not src/domain: verifying a token needs Node crypto.
 */
export function checkApprover(
  request: { actor: string; role?: string; token?: string },
  settings: Pick<GoLiveSettings, 'approvals' | 'environment'>,
  now = new Date(),
): ApproverCheck {
  return checkApprovalClaim(request, RELEASE_APPROVER_ROLES, settings, now);
}
