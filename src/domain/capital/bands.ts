import { z } from 'zod';

/**
 * Seed 004's Cone: capital usage falls in one of four bands. A has the most
 * headroom, D is close to the cap. Playbook steps name the worst band they
 * tolerate, so a launch does not proceed while capital is stretched.
 */
export const CAPITAL_BANDS = ['A', 'B', 'C', 'D'] as const;
export const CapitalBandSchema = z.enum(CAPITAL_BANDS);
export type CapitalBand = z.infer<typeof CapitalBandSchema>;

/** Usage fractions at which bands B, C and D begin. */
export interface CapitalBandThresholds {
  B: number;
  C: number;
  D: number;
}

export const DEFAULT_CAPITAL_BANDS: CapitalBandThresholds = { B: 0.25, C: 0.5, D: 0.75 };

export interface CapitalUsage {
  band: CapitalBand;
  /** Committed exposure today over the GLOBAL daily exposure cap; null when no cap is set. */
  usage: number | null;
  committed: number;
  cap: number | null;
  day: string;
}

/**
 * No cap means no measure of headroom: that is band D, the most cautious
 * reading, rather than a false A.
 */
export function classifyBand(usage: number | null, thresholds: CapitalBandThresholds): CapitalBand {
  if (usage === null) return 'D';
  if (usage >= thresholds.D) return 'D';
  if (usage >= thresholds.C) return 'C';
  if (usage >= thresholds.B) return 'B';
  return 'A';
}

/** True when `band` is no worse than `worstAllowed` (A is best). */
export function bandWithin(band: CapitalBand, worstAllowed: CapitalBand): boolean {
  return CAPITAL_BANDS.indexOf(band) <= CAPITAL_BANDS.indexOf(worstAllowed);
}

export function measureCapitalUsage(
  committed: number,
  cap: number | null,
  day: string,
  thresholds: CapitalBandThresholds,
): CapitalUsage {
  const usage = cap === null ? null : cap <= 0 ? 1 : committed / cap;
  return { band: classifyBand(usage, thresholds), usage, committed, cap, day };
}
