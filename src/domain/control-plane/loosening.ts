import { APPLY_MODES, type ApplyMode, type ControlPlaneChange, type ControlPlaneState } from './types';

// Invariant 8 on the control plane's own signals: a raw `setGoLive true`,
// `setApplyMode` towards live or `clearEngineRestriction` (from the Temporal
// CLI or UI as much as from Warden) counts only as the application of a change
// request others approved. Tightening needs nothing. Pure: the persist
// activity reads the request and decides with these, so the decision is
// recorded in history.

/** One change of a request, as far as the control plane reads it (a PolicyChange, src/domain/change-requests). */
export interface AuthorityChange {
  kind: string;
  target: string;
  before: unknown;
  after: unknown;
}

/** A change request as the control plane reads it to take it as authority. */
export interface ChangeRequestAuthority {
  id: string;
  status: string;
  changes: readonly AuthorityChange[];
}

/** Statuses in which a request's changes may be applied: approved, being applied, or applied after its transaction. */
export const AUTHORISING_STATUSES: readonly string[] = ['approved', 'applying', 'applied'];

/** What the persist activity read for a change that names a change request. */
export interface AuthorityContext {
  /** The request as Warden holds it; null when it holds none by that id. */
  changeRequest: ChangeRequestAuthority | null;
  /** Changes of that request the control plane already applied under it: each authorises once. */
  spent: readonly AuthorityChange[];
}

/** What a loosening change needs: a request change matching it, and how to open one. */
interface Loosening {
  what: string;
  howTo: string;
  matches: (c: AuthorityChange) => boolean;
}

const rank = (mode: ApplyMode): number => APPLY_MODES.indexOf(mode);
const OPEN = 'or POST /change-requests; it applies once others approve it';

/** What `change` loosens against `state`, or null when it tightens, re-measures or changes nothing. */
function looseningOf(state: ControlPlaneState, change: ControlPlaneChange): Loosening | null {
  switch (change.kind) {
    case 'setGoLive':
      if (!change.enabled || state.goLiveEnabled) return null;
      return {
        what: 'go-live on',
        howTo: `go-live on is a change request: open one with \`warden go-live on\` ${OPEN}`,
        matches: (c) => c.kind === 'control_plane' && c.target === 'goLive' && c.after === true,
      };
    case 'setApplyMode':
      if (rank(change.mode) <= rank(state.applyMode)) return null;
      return {
        what: `apply mode ${state.applyMode} → ${change.mode}`,
        howTo: `apply mode ${change.mode} is a change request: open one with \`warden apply-mode ${change.mode}\` ${OPEN}`,
        matches: (c) => c.kind === 'control_plane' && c.target === 'applyMode' && c.after === change.mode,
      };
    case 'clearEngineRestriction': {
      const { restrictionId, engine, restriction, source } = change;
      return {
        what: restrictionId !== undefined ? `clear restriction ${restrictionId}` : `clear restrictions on ${engine}`,
        howTo: `lifting a restriction is a change request: open one with \`warden restrictions clear\` ${OPEN}`,
        matches: (c) => {
          if (c.kind !== 'restriction' || c.after !== null) return false;
          if (restrictionId !== undefined) return c.target === restrictionId;
          const before = (c.before ?? {}) as { restriction?: unknown; source?: unknown };
          return c.target === engine && before.restriction === restriction && before.source === source;
        },
      };
    }
    default:
      return null;
  }
}

/** JSON with sorted keys: the same value read back from jsonb compares equal whatever its key order. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
    .join(',')}}`;
}

/** One change of a request, the same one applied before (its classification aside). */
const sameChange = (a: AuthorityChange, b: AuthorityChange): boolean =>
  a.kind === b.kind &&
  a.target === b.target &&
  canonical(a.before) === canonical(b.before) &&
  canonical(a.after) === canonical(b.after);

export type AuthorityVerdict =
  | { needed: false }
  | { needed: true; ok: true; changeRequestId: string; change: AuthorityChange }
  | { needed: true; ok: false; problem: string };

/**
 * Whether a change may apply on its request's authority: not needed when it
 * does not loosen; otherwise it must name a request Warden holds, approved,
 * that includes exactly this change, not yet applied under it.
 */
export function judgeAuthority(
  state: ControlPlaneState,
  change: ControlPlaneChange,
  read: AuthorityContext | undefined,
): AuthorityVerdict {
  const loosening = looseningOf(state, change);
  if (loosening === null) return { needed: false };
  const refused = (problem: string): AuthorityVerdict => ({ needed: true, ok: false, problem });
  const id = 'changeRequestId' in change ? change.changeRequestId : undefined;
  if (id === undefined) return refused(`changeRequestId: ${loosening.howTo}`);
  if (read === undefined) return refused(`changeRequestId: change request ${id} could not be checked`);
  const request = read.changeRequest;
  if (request === null || request.id !== id) return refused(`changeRequestId: Warden holds no change request ${id}`);
  if (!AUTHORISING_STATUSES.includes(request.status))
    return refused(`changeRequestId: change request ${id} is ${request.status}, not approved`);
  const matched = request.changes.find(loosening.matches);
  if (matched === undefined)
    return refused(`changeRequestId: change request ${id} does not include this change (${loosening.what})`);
  if (read.spent.some((s) => sameChange(s, matched)))
    return refused(
      `changeRequestId: change request ${id} was already applied for ${loosening.what}; a new one is needed`,
    );
  return { needed: true, ok: true, changeRequestId: id, change: matched };
}

/**
 * Go-live needs a playbook run through after the last time go-live went off:
 * a launch rehearsed before an incident does not vouch for the relaunch.
 */
export function playbookProblem(playbookCompletedAt: string | null, lastGoLiveOffAt: string | null): string | null {
  if (playbookCompletedAt === null)
    return 'enabled: go-live needs a completed goLivePlaybook (all nine steps, see `warden playbook`)';
  if (lastGoLiveOffAt !== null && Date.parse(playbookCompletedAt) <= Date.parse(lastGoLiveOffAt))
    return `enabled: go-live was turned off at ${lastGoLiveOffAt}, after the last goLivePlaybook completed (${playbookCompletedAt}); complete a new one (\`warden playbook\`) before going live again`;
  return null;
}
