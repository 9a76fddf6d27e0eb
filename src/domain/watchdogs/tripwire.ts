import { z } from 'zod';

/** REDUCE_ONLY engages the kill switch in reduce mode: exits still run. */
export const REGRESSION_ACTIONS = ['THROTTLE', 'PAUSE', 'REDUCE_ONLY', 'KILL_SWITCH'] as const;
export const RegressionActionSchema = z.enum(REGRESSION_ACTIONS);
export type RegressionAction = z.infer<typeof RegressionActionSchema>;

export const MetricSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a metric name in snake_case, e.g. contract_rate');
/** `DOMAIN/metric`, how operators name a regression policy. */
export const PolicyIdSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,63}\/[a-z][a-z0-9_]{0,63}$/, 'expected DOMAIN/metric, e.g. WHOLESALE/contract_rate')
  .transform((id) => {
    const [domain, metric] = id.split('/') as [string, string];
    return { domain, metric };
  });
export const policyId = (p: { domain: string; metric: string }) => `${p.domain}/${p.metric}`;

export interface RegressionPolicy {
  domain: string;
  metric: string;
  engine: string;
  windowEvents: number;
  baselineEvents: number;
  maxDropFraction: number;
  action: RegressionAction;
  enabled: boolean;
  /**
   * The last baseline reset (ISO time): the baseline is pinned to the first `baselineEvents` events from it
   * (the good week), and the window is the newest events after those. Left out, the seed's rolling baseline.
   */
  baselineSince?: string;
}

export interface KpiSample {
  success: boolean | null;
  value: number | null;
}

/**
 * Seed 000's _rate_from_events: the success rate when the events carry
 * success flags, else the average of their values. Undefined for none.
 */
export function rateFromEvents(events: KpiSample[]): number | undefined {
  if (events.length === 0) return undefined;
  if (events.every((e) => e.success !== null)) return events.filter((e) => e.success).length / events.length;
  const values = events.map((e) => e.value).filter((v): v is number => v !== null);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

export type RegressionDecision =
  | { decision: 'insufficient_data'; windowCount: number; baselineCount: number; detail: string }
  | {
      decision: 'ok' | 'triggered';
      windowCount: number;
      baselineCount: number;
      baseline: number;
      current: number;
      dropFraction: number;
    };

/** What a tripwire compares: its recent window and the baseline before it, each newest first. */
export interface KpiComparison {
  recent: KpiSample[];
  before: KpiSample[];
}

/** Seed 000's rolling comparison: the newest `windowEvents`, then the `baselineEvents` before them. */
export function rollingComparison(
  policy: Pick<RegressionPolicy, 'windowEvents' | 'baselineEvents'>,
  newestFirst: KpiSample[],
): KpiComparison {
  return {
    recent: newestFirst.slice(0, policy.windowEvents),
    before: newestFirst.slice(policy.windowEvents, policy.windowEvents + policy.baselineEvents),
  };
}

/**
 * Seed 000 Lever 4: the most recent `windowEvents` against the
 * `baselineEvents` before them (newest first in `events`), or against the
 * baseline a reset pinned. Triggered when the drop relative to the baseline
 * reaches `maxDropFraction`. Too few events, or a baseline of zero, decides nothing.
 */
export function evaluateRegression(
  policy: Pick<RegressionPolicy, 'windowEvents' | 'baselineEvents' | 'maxDropFraction'>,
  samples: KpiSample[] | KpiComparison,
): RegressionDecision {
  const { recent, before } = Array.isArray(samples) ? rollingComparison(policy, samples) : samples;
  const counts = { windowCount: recent.length, baselineCount: before.length };
  if (recent.length < policy.windowEvents || before.length < policy.baselineEvents) {
    return {
      decision: 'insufficient_data',
      ...counts,
      detail: `need ${policy.windowEvents} recent + ${policy.baselineEvents} baseline events, have ${recent.length} + ${before.length}`,
    };
  }
  const current = rateFromEvents(recent);
  const baseline = rateFromEvents(before);
  if (current === undefined || baseline === undefined || baseline <= 0) {
    return { decision: 'insufficient_data', ...counts, detail: 'no measurable baseline' };
  }
  // Rounded so that a drop of exactly the threshold counts as reaching it.
  const dropFraction = Math.round(((baseline - current) / baseline) * 1e9) / 1e9;
  return {
    decision: dropFraction >= policy.maxDropFraction ? 'triggered' : 'ok',
    ...counts,
    baseline,
    current,
    dropFraction,
  };
}

export interface TripwireFiring {
  policy: string;
  domain: string;
  metric: string;
  engine: string;
  action: RegressionAction;
  baseline: number;
  current: number;
  dropFraction: number;
}

export interface TripwireReport {
  evaluated: {
    policy: string;
    decision: string;
    baseline: number | null;
    current: number | null;
    dropFraction: number | null;
  }[];
  fired: TripwireFiring[];
}
