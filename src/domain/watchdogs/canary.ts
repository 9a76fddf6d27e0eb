import { z } from 'zod';

export interface CheckResult {
  name: string;
  ok: boolean;
  error?: string;
  durationMs: number;
}

export const CanaryInputSchema = z.strictObject({
  httpProbes: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lowercase check name'),
        url: z.string().regex(/^https?:\/\/\S+$/, 'expected an http(s) URL'),
        timeoutMs: z.number().int().min(50).max(30_000).default(2000),
      }),
    )
    .max(20)
    .default([]),
  threshold: z.number().int().min(1).max(100).default(3),
  /** What a trip does: KILL_SWITCH (halt) or REDUCE_ONLY (the kill switch in reduce mode: exits still run). */
  action: z
    .enum(['KILL_SWITCH', 'REDUCE_ONLY'], { message: 'expected KILL_SWITCH or REDUCE_ONLY' })
    .default('KILL_SWITCH'),
  checkTimeoutMs: z.number().int().min(50).max(30_000).default(2000),
});
export type CanaryInput = z.input<typeof CanaryInputSchema>;

/** Carried from one scheduled run to the next (the schedule hands it over as lastResult). */
export interface CanaryRunResult {
  consecutiveFailures: Record<string, number>;
  tripped: string[];
  recovered: string[];
  results: CheckResult[];
}

/**
 * Consecutive failures per check. A check trips when it reaches the threshold
 * (once: not again every run while it stays down); a check that passes after
 * failing has recovered.
 */
export function nextCanaryState(
  previous: Record<string, number>,
  results: CheckResult[],
  threshold: number,
): Omit<CanaryRunResult, 'results'> {
  const consecutiveFailures: Record<string, number> = {};
  const tripped: string[] = [];
  const recovered: string[] = [];
  for (const r of results) {
    const before = previous[r.name] ?? 0;
    const now = r.ok ? 0 : before + 1;
    consecutiveFailures[r.name] = now;
    if (!r.ok && now === threshold) tripped.push(r.name);
    if (r.ok && before > 0) recovered.push(r.name);
  }
  return { consecutiveFailures, tripped, recovered };
}
