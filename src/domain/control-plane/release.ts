import { durationMs } from '../shared/durations';
import { RELEASE_APPROVER_ROLES, type Role } from '../identity/roles';
import { checkSeparation, sameIdentity } from '../identity/separation';
import type { ControlPlaneState, ReleaseApproval } from './types';

/** This environment's rules for releasing an engaged kill switch. */
export interface KillSwitchReleasePolicy {
  /** How long after engaging before a release may be approved, e.g. 15m. */
  cooldown: string;
  /** Distinct approvers needed; whoever engaged the kill switch is never one of them (separation of duties). */
  approvals: number;
}

export const DEFAULT_RELEASE_POLICY: KillSwitchReleasePolicy = { cooldown: '15m', approvals: 1 };

/** A vote whose identity and role are settled (by a verified token, or as declared when tokens are off). */
export interface ReleaseVote {
  actor: string;
  role: Role;
  decline: boolean;
  /** A vote towards reduce mode (halt → reduce) rather than towards a release. */
  mode?: 'reduce' | undefined;
}

export type ReleaseDecision =
  | { status: 'refused'; reason: string }
  | { status: 'declined'; detail: string }
  | { status: 'pending'; approvals: ReleaseApproval[]; detail: string }
  | { status: 'released'; approvals: ReleaseApproval[] }
  /** Enough votes towards reduce mode: the switch stays engaged, and lets through what reduces positions. */
  | { status: 'reduced'; approvals: ReleaseApproval[] };

const towards = (mode: 'reduce' | undefined) => (mode === 'reduce' ? 'reduce mode' : 'a release');

/**
 * Engaging is instant and open to many; releasing is slow and narrow: only an
 * approver role, only after the cooldown, never by the engager (in any
 * environment), and any decline throws away the approvals gathered.
 */
export function decideReleaseVote(
  state: ControlPlaneState,
  vote: ReleaseVote,
  policy: KillSwitchReleasePolicy,
  now: Date,
): ReleaseDecision {
  if (!state.killSwitchEngaged) return { status: 'refused', reason: 'the kill switch is not engaged' };
  if (!vote.decline && vote.mode === 'reduce' && state.killSwitchMode === 'reduce')
    return {
      status: 'refused',
      reason: 'mode: the kill switch is already in reduce mode; vote without a mode to release it',
    };
  if (!RELEASE_APPROVER_ROLES.includes(vote.role)) {
    return {
      status: 'refused',
      reason: `role: ${vote.role} may not ${vote.decline ? 'decline' : 'approve'} a release (approver roles: ${RELEASE_APPROVER_ROLES.join(', ')})`,
    };
  }
  if (vote.decline) {
    return {
      status: 'declined',
      detail: `${vote.actor} (${vote.role}) declined the release; ${state.releaseApprovals.length} approval(s) discarded`,
    };
  }
  const engagedAt = state.killSwitchEngagedAt === null ? 0 : Date.parse(state.killSwitchEngagedAt);
  const releasableAt = engagedAt + durationMs(policy.cooldown);
  if (now.getTime() < releasableAt) {
    return {
      status: 'refused',
      reason: `cooldown: the kill switch was engaged at ${state.killSwitchEngagedAt}; a release may be approved from ${new Date(releasableAt).toISOString()} (cooldown ${policy.cooldown})`,
    };
  }
  const engager = state.killSwitchEngagedBy;
  const separated = checkSeparation(
    vote.actor,
    engager === null ? [] : [{ actor: engager, as: 'engaged the kill switch' }],
  );
  if (!separated.ok) return { status: 'refused', reason: separated.problem };
  if (state.releaseApprovals.some((a) => sameIdentity(a.actor, vote.actor))) {
    return { status: 'refused', reason: `actor: ${vote.actor} has already approved this release` };
  }
  // Votes towards a release and towards reduce mode are never added up: each loosening has its own quorum.
  const other = state.releaseApprovals.find((a) => a.mode !== vote.mode);
  if (other !== undefined)
    return {
      status: 'refused',
      reason: `mode: the approvals so far are towards ${towards(other.mode)}, this vote towards ${towards(vote.mode)}; vote the same, or decline to start again`,
    };
  const approvals = [
    ...state.releaseApprovals,
    { actor: vote.actor, role: vote.role, at: now.toISOString(), ...(vote.mode ? { mode: vote.mode } : {}) },
  ];
  if (approvals.length >= policy.approvals)
    return vote.mode === 'reduce' ? { status: 'reduced', approvals } : { status: 'released', approvals };
  return { status: 'pending', approvals, detail: `${approvals.length} of ${policy.approvals} approvals` };
}
