import { AuditKind, type AuditKindName } from '../audit/kinds';
import type { CapitalBand } from '../capital/bands';
import { type AuthorityChange, type AuthorityContext, judgeAuthority, playbookProblem } from './loosening';
import { decideReleaseVote, type KillSwitchReleasePolicy, type ReleaseVote } from './release';
import type {
  ApplyMode,
  ChangeOutcome,
  ControlPlaneChange,
  ControlPlaneState,
  ExecutionClass,
  KillSwitchMode,
  TradingState,
} from './types';

export type EnforcementBlockReason = 'go_live_disabled' | 'kill_switch_engaged' | 'reducing_only';

/** The mode of an engaged switch; a state from before modes was engaged in halt. Null while released. */
export function killSwitchModeOf(state: Pick<ControlPlaneState, 'killSwitchEngaged' | 'killSwitchMode'>) {
  return state.killSwitchEngaged ? (state.killSwitchMode ?? 'halt') : null;
}

export function tradingStateOf(state: Pick<ControlPlaneState, 'killSwitchEngaged' | 'killSwitchMode'>): TradingState {
  const mode = killSwitchModeOf(state);
  return mode === null ? 'active' : mode === 'reduce' ? 'reducing' : 'halted';
}

/** An engage never loosens: reduce asked of a halted switch keeps it halted. */
export function engagedMode(state: ControlPlaneState, asked: KillSwitchMode | undefined): KillSwitchMode {
  return killSwitchModeOf(state) === 'halt' ? 'halt' : (asked ?? 'halt');
}

/**
 * What reducing mode asks of an action: whether it reduces a position Warden keeps (a deal, by
 * src/domain/deals/exits.ts) or is a command type marked safe in reduce; the detail says why not.
 */
export type ReduceCheck = { reduces: true } | { reduces: false; detail: string };

export type EnforcementDecision =
  | { allowed: true; executionClass: ExecutionClass; applyMode: ApplyMode }
  | { allowed: false; executionClass: ExecutionClass; reason: EnforcementBlockReason; detail: string };

/**
 * Seed 000, Lever 1. Coarse rule first: while go-live is off, only observation
 * passes. Precise rule second: an engaged kill switch stops production
 * execution but leaves sandbox work and observation running; in reduce mode it
 * lets through the production actions that reduce (`reduce`, judged by the
 * caller; without one, nothing passes).
 */
export function enforceControlPlane(
  executionClass: ExecutionClass,
  state: ControlPlaneState,
  reduce?: ReduceCheck,
): EnforcementDecision {
  if (executionClass === 'OBSERVE_ONLY') {
    return { allowed: true, executionClass, applyMode: state.applyMode };
  }
  if (!state.goLiveEnabled) {
    return {
      allowed: false,
      executionClass,
      reason: 'go_live_disabled',
      detail: 'go-live is off: only OBSERVE_ONLY actions run',
    };
  }
  if (executionClass === 'PROD_EXEC' && tradingStateOf(state) === 'reducing') {
    if (reduce?.reduces) return { allowed: true, executionClass, applyMode: state.applyMode };
    return {
      allowed: false,
      executionClass,
      reason: 'reducing_only',
      detail: `kill switch in reduce mode (${state.killSwitchSource ?? 'unknown'}: ${state.reason ?? 'no reason given'}): ${reduce?.detail ?? 'only actions that reduce a position run'}`,
    };
  }
  if (executionClass === 'PROD_EXEC' && state.killSwitchEngaged) {
    return {
      allowed: false,
      executionClass,
      reason: 'kill_switch_engaged',
      detail: `kill switch engaged by ${state.killSwitchSource ?? 'unknown'}: ${state.reason ?? 'no reason given'}`,
    };
  }
  return { allowed: true, executionClass, applyMode: state.applyMode };
}

export interface ChangeContext {
  at: Date;
  release: KillSwitchReleasePolicy;
  /** For go-live on: when a goLivePlaybook last ran all nine steps (ISO-8601), or null if none has. */
  playbookCompletedAt: string | null;
  /** For go-live on: when go-live last went from on to off (ISO-8601), or null if it never has. */
  lastGoLiveOffAt: string | null;
  /** For a change naming a change request: the request as Warden holds it, and what it already applied. */
  authority?: AuthorityContext;
  /** For release votes: the settled identity and role, or why the vote cannot count (bad or missing token). */
  vote?: ReleaseVote | { refused: string };
  /** Capital usage measured now; every change refreshes the band. */
  capital: { band: CapitalBand; usage: number | null };
  /** For clearEngineRestriction: how many active restrictions the change names. */
  restrictionsToClear?: number;
}

export interface ChangeDecision {
  outcome: ChangeOutcome;
  next: ControlPlaneState;
  /** The audit kind that records it. */
  auditKind: AuditKindName;
  /** The approved change request a loosening change applied, and its change it applied. */
  authority?: { changeRequestId: string; change: AuthorityChange };
}

/**
 * Decides one change against the state and this environment's rules. A
 * refusal leaves the state as it was (same version); every accepted change
 * bumps the version.
 */
export function decideControlPlaneChange(
  state: ControlPlaneState,
  change: ControlPlaneChange,
  ctx: ChangeContext,
): ChangeDecision {
  const capital = { capitalBand: ctx.capital.band, capitalUsage: ctx.capital.usage };
  const stamped = {
    ...capital,
    updatedBy: change.actor,
    updatedAt: ctx.at.toISOString(),
    version: state.version + 1,
    reason: ('reason' in change ? change.reason : undefined) ?? null,
  };
  const refused = (reason: string): ChangeDecision => ({
    outcome: { status: 'refused', reason },
    next: state,
    auditKind: CONTROL_PLANE_REFUSAL_KIND,
  });
  // Whatever would apply and loosens needs others' approval, on every path: an approved change request.
  const applied = (
    next: ControlPlaneState,
    auditKind: AuditKindName = CONTROL_PLANE_AUDIT_KINDS[change.kind],
  ): ChangeDecision => {
    const authority = judgeAuthority(state, change, ctx.authority);
    if (authority.needed && !authority.ok) return refused(authority.problem);
    return {
      outcome: { status: 'applied' },
      next,
      auditKind,
      ...(authority.needed
        ? { authority: { changeRequestId: authority.changeRequestId, change: authority.change } }
        : {}),
    };
  };
  switch (change.kind) {
    case 'setGoLive': {
      const problem = change.enabled ? playbookProblem(ctx.playbookCompletedAt, ctx.lastGoLiveOffAt) : null;
      if (problem !== null) return refused(problem);
      return applied({ ...state, ...stamped, goLiveEnabled: change.enabled });
    }
    case 'engageKillSwitch':
      // A new engagement is a new incident: the cooldown restarts and earlier approvals lapse.
      return applied({
        ...state,
        ...stamped,
        killSwitchEngaged: true,
        killSwitchSource: change.source,
        killSwitchEngagedAt: ctx.at.toISOString(),
        killSwitchEngagedBy: change.actor,
        killSwitchMode: engagedMode(state, change.mode),
        releaseApprovals: [],
      });
    case 'releaseKillSwitch':
    case 'declineKillSwitchRelease': {
      if (ctx.vote === undefined) return refused('token: the vote could not be checked');
      if ('refused' in ctx.vote) return refused(ctx.vote.refused);
      const decision = decideReleaseVote(state, ctx.vote, ctx.release, ctx.at);
      switch (decision.status) {
        case 'refused':
          return refused(decision.reason);
        case 'declined':
          return {
            outcome: { status: 'applied' },
            next: { ...state, ...stamped, releaseApprovals: [] },
            auditKind: CONTROL_PLANE_AUDIT_KINDS.declineKillSwitchRelease,
          };
        case 'pending':
          return {
            outcome: { status: 'pending', detail: decision.detail },
            next: { ...state, ...stamped, reason: state.reason, releaseApprovals: decision.approvals },
            auditKind: AuditKind.controlPlane.killSwitchReleaseApproved,
          };
        case 'released':
          return applied({
            ...state,
            ...stamped,
            killSwitchEngaged: false,
            killSwitchSource: null,
            killSwitchEngagedAt: null,
            killSwitchEngagedBy: null,
            killSwitchMode: null,
            releaseApprovals: [],
          });
        case 'reduced':
          // Halt → reduce: still engaged (its cooldown and engager stand), now letting exits through.
          return applied(
            { ...state, ...stamped, killSwitchMode: 'reduce', releaseApprovals: [] },
            AuditKind.controlPlane.killSwitchReduced,
          );
      }
      break;
    }
    case 'setApplyMode':
      return applied({ ...state, ...stamped, applyMode: change.mode });
    case 'restrictEngine':
      // The restriction lives with the engine's policy; the control plane only serialises and audits it.
      return applied({ ...state, ...capital });
    case 'clearEngineRestriction':
      if ((ctx.restrictionsToClear ?? 0) === 0) {
        return refused(
          change.restrictionId !== undefined
            ? `restrictionId: no active restriction ${change.restrictionId}`
            : `engine: no active ${change.restriction ?? 'restriction'} on ${change.engine}${change.source ? ` from ${change.source}` : ''}`,
        );
      }
      // Like a restriction, the clearing lives with the engine's policy; the control plane serialises and audits it.
      return applied({ ...state, ...capital });
    case 'refreshCapitalBand':
      if (ctx.capital.band === state.capitalBand) return applied({ ...state, ...capital });
      return applied({
        ...state,
        ...stamped,
        reason: `capital usage ${ctx.capital.usage === null ? 'unmeasured (no GLOBAL cap)' : `${(ctx.capital.usage * 100).toFixed(1)}%`}`,
      });
  }
}

/** The audit kind for each change, named after what happened. */
export const CONTROL_PLANE_AUDIT_KINDS = {
  setGoLive: AuditKind.controlPlane.goLiveSet,
  engageKillSwitch: AuditKind.controlPlane.killSwitchEngaged,
  releaseKillSwitch: AuditKind.controlPlane.killSwitchReleased,
  declineKillSwitchRelease: AuditKind.controlPlane.killSwitchReleaseDeclined,
  setApplyMode: AuditKind.controlPlane.applyModeSet,
  restrictEngine: AuditKind.controlPlane.engineRestricted,
  refreshCapitalBand: AuditKind.controlPlane.capitalBandChanged,
  clearEngineRestriction: AuditKind.controlPlane.engineRestrictionCleared,
} as const satisfies Record<ControlPlaneChange['kind'], AuditKindName>;
export const CONTROL_PLANE_REFUSAL_KIND = AuditKind.controlPlane.changeRefused;
export const CONTROL_PLANE_REJECTION_KIND = AuditKind.controlPlane.signalRejected;
export const CONTROL_PLANE_DROPPED_KIND = AuditKind.controlPlane.changeDropped;
export const CONTROL_PLANE_OVERFLOW_KIND = AuditKind.controlPlane.queueOverflow;
export const CONTROL_PLANE_SUBJECT = 'control-plane';
