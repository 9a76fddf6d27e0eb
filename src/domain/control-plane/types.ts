import { z } from 'zod';
import type { CapitalBand } from '../capital/bands';
import { ChangeRequestIdSchema } from '../change-requests/id';
import { type Role, RoleSchema } from '../identity/roles';
import { EngineSchema } from '../risk/rules';
import { safeText } from '../shared/validation';
import {
  ActorSchema,
  type ApplyMode,
  ApplyModeSchema,
  KillSwitchModeSchema,
  type KillSwitchMode,
  ReasonSchema,
  type TradingState,
} from './primitives';

// Its words, shared with every other part, live in ./primitives; they are this module's too.
export * from './primitives';

/** Who engaged a kill switch: an operator, or a watchdog such as tripwire or canary. */
export const KillSwitchSourceSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lowercase source name such as operator, tripwire or canary');
/**
 * Who placed an engine restriction: a source name, optionally qualified, e.g.
 * `tripwire:WHOLESALE/roi_event` or `operator:alice`.
 */
export const RestrictionSourceSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,63}(:[A-Za-z0-9_.@/-]{1,200})?$/,
    'expected a lowercase source name, optionally qualified, such as operator, tripwire:WHOLESALE/roi_event or operator:alice',
  );
/** A signed approval token: printable, bounded. */
export const ApprovalTokenSchema = safeText({ max: 4096 });
/** Largest control-plane payload read, as JSON text; a bigger one is refused before parsing (an engage still engages). */
export const MAX_CONTROL_PLANE_PAYLOAD = 64 * 1024;
/** Most changes queued at once; past it a non-engage change is refused (audited), an engage never. */
export const MAX_CONTROL_PLANE_QUEUE = 256;
/**
 * Most signals one run hands the next: the whole queue. Each is bounded (a change by its schema, a
 * refused payload compacted to text), so the continue-as-new input stays under Temporal's 2 MB.
 */
export const MAX_HANDED_OVER = MAX_CONTROL_PLANE_QUEUE;

/**
 * The approved change request a loosening change applies (go-live on, apply
 * mode towards live, lifting a restriction): without one, or with one that
 * does not include exactly this change, the control plane refuses it.
 * Tightening changes need none.
 */
const ChangeRequestAuthorityField = ChangeRequestIdSchema.optional();

// Payloads are plain JSON so operators can send them from the Temporal CLI or
// Web UI; strict objects turn a misspelt field into an error naming it.
export const SetGoLiveInputSchema = z.strictObject({
  enabled: z.boolean(),
  actor: ActorSchema,
  reason: ReasonSchema.optional(),
  changeRequestId: ChangeRequestAuthorityField,
});
export const EngageKillSwitchInputSchema = z.strictObject({
  source: KillSwitchSourceSchema,
  actor: ActorSchema,
  reason: ReasonSchema,
  /** halt (the default) or reduce; an engage never loosens: reduce on a halted switch keeps it halted. */
  mode: KillSwitchModeSchema.optional(),
});
/**
 * A vote on releasing the kill switch. `role` names the approver role acted
 * in; `token` is a signed approval token (required when signed approvals are
 * on, and then the token's subject and roles are what count).
 */
export const ReleaseKillSwitchInputSchema = z.strictObject({
  actor: ActorSchema,
  reason: ReasonSchema,
  role: RoleSchema.optional(),
  token: ApprovalTokenSchema.optional(),
  /** `reduce`: a vote to loosen a halted switch to reduce mode only, not to release it. */
  mode: z.literal('reduce', { message: 'expected reduce (a vote towards reduce mode), or no mode' }).optional(),
});
export const DeclineKillSwitchReleaseInputSchema = ReleaseKillSwitchInputSchema;
/** Throttle or pause one engine (seed 000 tripwire actions), e.g. from an Alertmanager alert. */
export const RestrictEngineInputSchema = z.strictObject({
  engine: EngineSchema,
  restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }),
  source: RestrictionSourceSchema,
  actor: ActorSchema,
  reason: ReasonSchema,
});
/**
 * Lift engine restrictions: one by `restrictionId`, or every active one on
 * `engine` (narrowed by `restriction` kind and/or `source`). Clearing the last
 * throttle restores the engine policy as it was before the first.
 */
const ClearEngineRestrictionFields = z.strictObject({
  restrictionId: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, 'expected a restriction id such as 42')
    .optional(),
  engine: EngineSchema.optional(),
  restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }).optional(),
  source: RestrictionSourceSchema.optional(),
  actor: ActorSchema,
  reason: ReasonSchema,
  changeRequestId: ChangeRequestAuthorityField,
});
const oneTarget = (v: { restrictionId?: string | undefined; engine?: string | undefined }) =>
  (v.restrictionId === undefined) !== (v.engine === undefined);
const ONE_TARGET = { message: 'give exactly one of restrictionId or engine', path: ['restrictionId'] };
export const ClearEngineRestrictionInputSchema = ClearEngineRestrictionFields.refine(oneTarget, ONE_TARGET);
/** Re-reads capital usage into the state; the band is measured, never taken from the payload. */
export const RefreshCapitalBandInputSchema = z.strictObject({ actor: ActorSchema });
export const SetApplyModeInputSchema = z.strictObject({
  mode: ApplyModeSchema,
  actor: ActorSchema,
  reason: ReasonSchema.optional(),
  changeRequestId: ChangeRequestAuthorityField,
});

export type SetGoLiveInput = z.infer<typeof SetGoLiveInputSchema>;
export type EngageKillSwitchInput = z.infer<typeof EngageKillSwitchInputSchema>;
export type ReleaseKillSwitchInput = z.infer<typeof ReleaseKillSwitchInputSchema>;
export type DeclineKillSwitchReleaseInput = z.infer<typeof DeclineKillSwitchReleaseInputSchema>;
export type RestrictEngineInput = z.infer<typeof RestrictEngineInputSchema>;
export type ClearEngineRestrictionInput = z.infer<typeof ClearEngineRestrictionInputSchema>;
export type RefreshCapitalBandInput = z.infer<typeof RefreshCapitalBandInputSchema>;
export type SetApplyModeInput = z.infer<typeof SetApplyModeInputSchema>;

export const controlPlaneChangeSchemas = {
  setGoLive: SetGoLiveInputSchema,
  engageKillSwitch: EngageKillSwitchInputSchema,
  releaseKillSwitch: ReleaseKillSwitchInputSchema,
  declineKillSwitchRelease: DeclineKillSwitchReleaseInputSchema,
  setApplyMode: SetApplyModeInputSchema,
  restrictEngine: RestrictEngineInputSchema,
  refreshCapitalBand: RefreshCapitalBandInputSchema,
  clearEngineRestriction: ClearEngineRestrictionInputSchema,
} as const;
export type ControlPlaneChangeKind = keyof typeof controlPlaneChangeSchemas;

export type ControlPlaneChange =
  | ({ kind: 'setGoLive' } & SetGoLiveInput)
  | ({ kind: 'engageKillSwitch' } & EngageKillSwitchInput)
  | ({ kind: 'releaseKillSwitch' } & ReleaseKillSwitchInput)
  | ({ kind: 'declineKillSwitchRelease' } & DeclineKillSwitchReleaseInput)
  | ({ kind: 'setApplyMode' } & SetApplyModeInput)
  | ({ kind: 'restrictEngine' } & RestrictEngineInput)
  | ({ kind: 'refreshCapitalBand' } & RefreshCapitalBandInput)
  | ({ kind: 'clearEngineRestriction' } & ClearEngineRestrictionInput);

export interface ReleaseApproval {
  actor: string;
  role: Role;
  at: string;
  /** Set on a vote towards reduce mode; absent on a vote to release. */
  mode?: 'reduce';
}

/** What became of one change: applied, recorded but waiting (more approvals), or refused with the reason. */
export type ChangeOutcome =
  { status: 'applied' } | { status: 'pending'; detail: string } | { status: 'refused'; reason: string };

export interface ControlPlaneState {
  goLiveEnabled: boolean;
  killSwitchEngaged: boolean;
  /** Who engaged the kill switch; null while released. */
  killSwitchSource: string | null;
  /** ISO-8601 instant the kill switch was engaged; the release cooldown runs from here. */
  killSwitchEngagedAt: string | null;
  killSwitchEngagedBy: string | null;
  /** halt or reduce while engaged, null while released; absent in states from before modes (halt). */
  killSwitchMode?: KillSwitchMode | null;
  /** Approvals collected towards releasing the kill switch. */
  releaseApprovals: ReleaseApproval[];
  applyMode: ApplyMode;
  /** Seed 004 Cone band of today's capital usage, as last measured. */
  capitalBand: CapitalBand;
  capitalUsage: number | null;
  reason: string | null;
  updatedBy: string;
  /** ISO-8601 instant of the last persisted change. */
  updatedAt: string;
  version: number;
}

/** What the `state` query returns: the persisted state plus what is queued behind it. */
export const ChangeControlPlaneInputSchema = z.discriminatedUnion('kind', [
  SetGoLiveInputSchema.extend({ kind: z.literal('setGoLive') }),
  EngageKillSwitchInputSchema.extend({ kind: z.literal('engageKillSwitch') }),
  ReleaseKillSwitchInputSchema.extend({ kind: z.literal('releaseKillSwitch') }),
  DeclineKillSwitchReleaseInputSchema.extend({ kind: z.literal('declineKillSwitchRelease') }),
  SetApplyModeInputSchema.extend({ kind: z.literal('setApplyMode') }),
  RestrictEngineInputSchema.extend({ kind: z.literal('restrictEngine') }),
  RefreshCapitalBandInputSchema.extend({ kind: z.literal('refreshCapitalBand') }),
  ClearEngineRestrictionFields.extend({ kind: z.literal('clearEngineRestriction') }).refine(oneTarget, ONE_TARGET),
]);

export type ChangeControlPlaneInput = z.input<typeof ChangeControlPlaneInputSchema>;

/** The `changeControlPlane` update's answer: what became of the change, and the state after it. */
export interface ChangeResult {
  outcome: ChangeOutcome;
  state: ControlPlaneState;
}

export interface ControlPlaneView extends ControlPlaneState {
  /** active, reducing or halted (since trading states; absent from runs before them). */
  tradingState?: TradingState;
  pendingChanges: number;
  rejectedSignals: number;
  /** Changes dropped because the database would not take them (audited as control_plane.change_dropped). */
  droppedChanges?: number;
}

export const INITIAL_CONTROL_PLANE_STATE: ControlPlaneState = {
  goLiveEnabled: false,
  killSwitchEngaged: false,
  killSwitchSource: null,
  killSwitchEngagedAt: null,
  killSwitchEngagedBy: null,
  killSwitchMode: null,
  releaseApprovals: [],
  applyMode: 'dry_run',
  capitalBand: 'A',
  capitalUsage: null,
  reason: null,
  updatedBy: 'system',
  updatedAt: new Date(0).toISOString(),
  version: 0,
};

export const ControlPlaneInputSchema = z.strictObject({
  /** Signals handled by earlier runs; carried over continue-as-new for the audit trail. */
  handledSignals: z.number().int().min(0).default(0),
  rejectedSignals: z.number().int().min(0).default(0),
  droppedChanges: z.number().int().min(0).default(0),
  /** Continue-as-new after this many signals; well under the 10,000 per execution. */
  signalsPerRun: z.number().int().min(1).max(5000).default(1000),
  /**
   * Signals the last run received and did not handle, handed over by continue-as-new (so sustained
   * traffic cannot keep a run from ever handing over): a change, or a refused payload still to audit.
   */
  queued: z
    .array(
      z.union([
        z.strictObject({ ok: z.literal(true), change: z.unknown() }),
        z.strictObject({
          ok: z.literal(false),
          signal: z.string().max(100),
          payload: z.unknown(),
          problem: z.string().max(2000),
        }),
      ]),
    )
    .max(MAX_HANDED_OVER)
    .default([]),
});
export type ControlPlaneInput = z.input<typeof ControlPlaneInputSchema>;
