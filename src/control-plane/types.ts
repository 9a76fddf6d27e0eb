import { z } from 'zod';

export const APPLY_MODES = ['dry_run', 'testnet', 'live'] as const;
export const ApplyModeSchema = z.enum(APPLY_MODES);
export type ApplyMode = z.infer<typeof ApplyModeSchema>;

/** Seed 000 execution classes: what an action does when it runs. */
export const EXECUTION_CLASSES = ['OBSERVE_ONLY', 'SANDBOX_EXEC', 'PROD_EXEC'] as const;
export const ExecutionClassSchema = z.enum(EXECUTION_CLASSES);
export type ExecutionClass = z.infer<typeof ExecutionClassSchema>;

export const ActorSchema = z.string().trim().min(1, 'must name who acts').max(200);
export const ReasonSchema = z.string().trim().min(1, 'must say why').max(2000);
/** Who engaged a kill switch: an operator, or a watchdog such as tripwire or canary. */
export const KillSwitchSourceSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lowercase source name such as operator, tripwire or canary');

// Payloads are plain JSON so operators can send them from the Temporal CLI or
// Web UI; strict objects turn a misspelt field into an error naming it.
export const SetGoLiveInputSchema = z.strictObject({
  enabled: z.boolean(),
  actor: ActorSchema,
  reason: ReasonSchema.optional(),
});
export const EngageKillSwitchInputSchema = z.strictObject({
  source: KillSwitchSourceSchema,
  actor: ActorSchema,
  reason: ReasonSchema,
});
export const ReleaseKillSwitchInputSchema = z.strictObject({
  actor: ActorSchema,
  reason: ReasonSchema,
});
export const SetApplyModeInputSchema = z.strictObject({
  mode: ApplyModeSchema,
  actor: ActorSchema,
  reason: ReasonSchema.optional(),
});

export type SetGoLiveInput = z.infer<typeof SetGoLiveInputSchema>;
export type EngageKillSwitchInput = z.infer<typeof EngageKillSwitchInputSchema>;
export type ReleaseKillSwitchInput = z.infer<typeof ReleaseKillSwitchInputSchema>;
export type SetApplyModeInput = z.infer<typeof SetApplyModeInputSchema>;

export const controlPlaneChangeSchemas = {
  setGoLive: SetGoLiveInputSchema,
  engageKillSwitch: EngageKillSwitchInputSchema,
  releaseKillSwitch: ReleaseKillSwitchInputSchema,
  setApplyMode: SetApplyModeInputSchema,
} as const;
export type ControlPlaneChangeKind = keyof typeof controlPlaneChangeSchemas;

export type ControlPlaneChange =
  | ({ kind: 'setGoLive' } & SetGoLiveInput)
  | ({ kind: 'engageKillSwitch' } & EngageKillSwitchInput)
  | ({ kind: 'releaseKillSwitch' } & ReleaseKillSwitchInput)
  | ({ kind: 'setApplyMode' } & SetApplyModeInput);

export interface ControlPlaneState {
  goLiveEnabled: boolean;
  killSwitchEngaged: boolean;
  /** Who engaged the kill switch; null while released. */
  killSwitchSource: string | null;
  applyMode: ApplyMode;
  reason: string | null;
  updatedBy: string;
  /** ISO-8601 instant of the last persisted change. */
  updatedAt: string;
  version: number;
}

/** What the `state` query returns: the persisted state plus what is queued behind it. */
export interface ControlPlaneView extends ControlPlaneState {
  pendingChanges: number;
  rejectedSignals: number;
}

export const INITIAL_CONTROL_PLANE_STATE: ControlPlaneState = {
  goLiveEnabled: false,
  killSwitchEngaged: false,
  killSwitchSource: null,
  applyMode: 'dry_run',
  reason: null,
  updatedBy: 'system',
  updatedAt: new Date(0).toISOString(),
  version: 0,
};

export const ControlPlaneInputSchema = z.strictObject({
  /** Signals handled by earlier runs; carried over continue-as-new for the audit trail. */
  handledSignals: z.number().int().min(0).default(0),
  rejectedSignals: z.number().int().min(0).default(0),
  /** Continue-as-new after this many signals; well under the 10,000 per execution. */
  signalsPerRun: z.number().int().min(1).max(5000).default(1000),
});
export type ControlPlaneInput = z.input<typeof ControlPlaneInputSchema>;
