import { z } from 'zod';

export const SymbolSchema = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'expected a symbol such as BTCUSDT');

/** Seed 003 governor settings: GOV_MAX_EXEC_PER_HOUR, GOV_MAX_EXEC_PER_5MIN, GOV_ENABLE_AUTO_DISARM. */
export const GovernorSettingsSchema = z.strictObject({
  maxPerHour: z.number().int().min(1).default(3),
  maxPer5Min: z.number().int().min(1).default(2),
  permitTtlSeconds: z.number().int().min(1).max(86_400).default(60),
  /** How long one executor attempt may run once started; past it the deal waits for reconciliation. Default 60. */
  executorTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
  autoDisarm: z.boolean().default(true),
});
export type GovernorSettings = z.output<typeof GovernorSettingsSchema>;
export const DEFAULT_GOVERNOR_SETTINGS: GovernorSettings = GovernorSettingsSchema.parse({});

export const HOUR_MS = 60 * 60 * 1000;
export const BURST_WINDOW_MS = 5 * 60 * 1000;

export type PermitBlockReason = 'burst_limit_exceeded' | 'hourly_limit_exceeded';

export interface PermitCounts {
  lastHour: number;
  last5Min: number;
}

export type PermitCheck = { ok: true } | { ok: false; reason: PermitBlockReason; detail: string; disarm: boolean };

/**
 * Per-symbol rate limits over sliding windows. The burst window is checked
 * first: a burst breach is the unsafe condition that disarms to dry_run.
 */
export function decidePermit(counts: PermitCounts, settings: GovernorSettings): PermitCheck {
  if (counts.last5Min >= settings.maxPer5Min) {
    return {
      ok: false,
      reason: 'burst_limit_exceeded',
      detail: `${counts.last5Min} executions in 5 min, max ${settings.maxPer5Min}`,
      disarm: settings.autoDisarm,
    };
  }
  if (counts.lastHour >= settings.maxPerHour) {
    return {
      ok: false,
      reason: 'hourly_limit_exceeded',
      detail: `${counts.lastHour} executions in 1 h, max ${settings.maxPerHour}`,
      disarm: false,
    };
  }
  return { ok: true };
}
