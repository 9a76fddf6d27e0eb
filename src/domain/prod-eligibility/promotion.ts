import type { PolicyChangeOf } from '../change-requests/changes';
import type { PolicyChangeStart } from '../change-requests/request';
import type { BaselineReview } from '../watchdogs/baselines';
import type { HeimdallPolicy, Scorecard } from './rules';

/**
 * Seed 000's Friday "Heimdall sandbox evolution": review each domain's week of
 * scorecards, "update confidence thresholds if >80% success" and "promote
 * recommendation domains to production if gates meet targets". Warden only
 * proposes: the weekly cycle opens one change request with what this answers,
 * and people approve it.
 */

/** The seed's ">80% success": strictly above, over the whole week. */
export const PROMOTION_SUCCESS_RATE = 0.8;
/** A threshold is never proposed above this: a gate at 1.0 would admit nothing. */
export const MAX_CONFIDENCE_PROD = 0.99;
/** The most a threshold rises in one week (two percentage points), however good the week. */
export const MAX_WEEKLY_RAISE = 0.02;
/** A review covers the cycle's UTC day and the six before it. */
export const REVIEW_DAYS = 7;

export interface HeimdallWeek {
  /** First and last UTC day of the week (inclusive). */
  from: string;
  to: string;
  trials: number;
  successes: number;
  successRate: number;
  /** Trial-weighted: the mean confidence of every sandbox trial of the week. */
  avgConfidence: number;
}

export type PromotedField = 'minConfidenceProd' | 'prodUseEnabled';

export interface DomainReview {
  domain: string;
  week: HeimdallWeek;
  proposed: PromotedField[];
  /** Why each field was or was not proposed, in words for the report. */
  reasons: string[];
  before: HeimdallPolicy;
  /** The policy as proposed; null when nothing is. */
  after: HeimdallPolicy | null;
}

export interface HeimdallWeekReview {
  from: string;
  to: string;
  /** Set when the whole week is held back (nothing proposed for any domain), with why. */
  held: string | null;
  domains: DomainReview[];
}

const DAY_MS = 86_400_000;

/** The UTC days a review at `at` covers, oldest first. */
export function reviewWindow(at: Date): { from: string; to: string } {
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  return { from: day(at.getTime() - (REVIEW_DAYS - 1) * DAY_MS), to: day(at.getTime()) };
}

/** One domain's days folded into its week; days outside the window are ignored. */
export function summariseWeek(window: { from: string; to: string }, cards: Scorecard[]): HeimdallWeek {
  let trials = 0;
  let successes = 0;
  let confidenceSum = 0;
  for (const card of cards) {
    if (card.day < window.from || card.day > window.to) continue;
    trials += card.trials;
    successes += card.successes;
    confidenceSum += card.avgConfidence * card.trials;
  }
  return {
    ...window,
    trials,
    successes,
    successRate: trials === 0 ? 0 : successes / trials,
    avgConfidence: trials === 0 ? 0 : confidenceSum / trials,
  };
}

/**
 * The threshold a good week earns: half-way from the current threshold towards
 * the week's average confidence, at most MAX_WEEKLY_RAISE, never above
 * MAX_CONFIDENCE_PROD, rounded down to 0.001 (so it stays below the average
 * that earned it). Undefined when that is no raise: a threshold never goes down.
 */
export function raisedThreshold(current: number, avgConfidence: number): number | undefined {
  const target = Math.min(avgConfidence, MAX_CONFIDENCE_PROD);
  if (target <= current) return undefined;
  const step = Math.min(MAX_WEEKLY_RAISE, (target - current) / 2);
  // Rounded to 1e-6 first so that 0.92 + 0.01 floors to 0.93, not 0.929.
  const raised = Math.floor(Math.round((current + step) * 1e6) / 1e3) / 1e3;
  return raised > current ? raised : undefined;
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** One domain's Friday decision: what its week earned, and why. */
export function reviewDomain(policy: HeimdallPolicy, week: HeimdallWeek): DomainReview {
  const reasons: string[] = [];
  const after = { ...policy };
  const seen = `${week.trials} trials, success ${pct(week.successRate)}, avg confidence ${week.avgConfidence.toFixed(3)}`;
  const enoughTrials = week.trials >= policy.minSandboxTrials && week.trials > 0;
  if (!enoughTrials) reasons.push(`${week.trials} sandbox trials this week < ${policy.minSandboxTrials} required`);

  if (enoughTrials && week.successRate > PROMOTION_SUCCESS_RATE) {
    const raised = raisedThreshold(policy.minConfidenceProd, week.avgConfidence);
    if (raised === undefined)
      reasons.push(`threshold ${policy.minConfidenceProd} kept: average confidence does not support a raise (${seen})`);
    else {
      after.minConfidenceProd = raised;
      reasons.push(`threshold ${policy.minConfidenceProd} → ${raised} (${seen})`);
    }
  } else if (enoughTrials) reasons.push(`threshold kept: success ${pct(week.successRate)} is not above 80%`);

  if (!policy.prodUseEnabled && enoughTrials) {
    const short = [
      week.successRate < policy.minSandboxSuccessRate &&
        `success ${pct(week.successRate)} < ${pct(policy.minSandboxSuccessRate)}`,
      week.avgConfidence < policy.minConfidenceProd &&
        `avg confidence ${week.avgConfidence.toFixed(3)} < ${policy.minConfidenceProd}`,
    ].filter((s): s is string => typeof s === 'string');
    if (short.length === 0) {
      after.prodUseEnabled = true;
      reasons.push(`prod use on: the week meets every gate target (${seen})`);
    } else reasons.push(`prod use stays off: ${short.join('; ')}`);
  }

  const proposed: PromotedField[] = [];
  if (after.minConfidenceProd !== policy.minConfidenceProd) proposed.push('minConfidenceProd');
  if (after.prodUseEnabled !== policy.prodUseEnabled) proposed.push('prodUseEnabled');
  return { domain: policy.domain, week, proposed, reasons, before: policy, after: proposed.length ? after : null };
}

/**
 * The Friday review of every domain. A week in which a regression tripwire
 * fired is not a good week (the seed resets baselines only "after good week"),
 * so it holds every promotion back: the KPIs that fired are the deals the
 * recommendations fed, and tripwires are kept per KPI domain, not per Heimdall domain.
 */
export function reviewHeimdallWeek(input: {
  at: Date;
  domains: { policy: HeimdallPolicy; cards: Scorecard[] }[];
  tripwireFirings: number;
}): HeimdallWeekReview {
  const window = reviewWindow(input.at);
  const held =
    input.tripwireFirings > 0
      ? `${input.tripwireFirings} regression tripwire firing(s) this week: no promotion after a regression`
      : null;
  const domains = input.domains.map(({ policy, cards }) => {
    const review = reviewDomain(policy, summariseWeek(window, cards));
    return held ? { ...review, proposed: [], after: null, reasons: [held] } : review;
  });
  return { ...window, held, domains };
}

/** The review's proposals as change-request changes: one per domain, its whole policy before and after. */
export function promotionChanges(review: HeimdallWeekReview): PolicyChangeOf<'heimdall_policy'>[] {
  const settings = ({ domain: _domain, ...rest }: HeimdallPolicy) => rest;
  return review.domains.flatMap((d) =>
    d.after
      ? [{ kind: 'heimdall_policy' as const, target: d.domain, before: settings(d.before), after: settings(d.after) }]
      : [],
  );
}

/** Who opens the Friday request: a system requester holds no roles, so people approve what loosens. */
export const FRIDAY_REQUESTER = { name: 'warden:governance-cycle', roles: [] };

/**
 * The change request a Friday asks for (the Heimdall promotions and the baseline resets), or null when it
 * proposes nothing. Its id is the cycle's UTC day (workflow `policy-change-friday-<day>`), so a second run
 * that day finds the first request instead of a twin.
 */
export function fridayChangeRequest(
  at: Date,
  review: HeimdallWeekReview,
  baselines: { review: BaselineReview; changes: PolicyChangeOf<'regression_policy'>[] } = EMPTY_BASELINES,
): PolicyChangeStart | null {
  const changes = [...promotionChanges(review), ...baselines.changes];
  if (changes.length === 0) return null;
  const what = [
    ...review.domains
      .filter((d) => d.after)
      .map(
        (d) =>
          `${d.domain}: ${d.proposed.map((f) => `${f} ${String(d.before[f])} → ${String(d.after![f])}`).join(', ')}`,
      ),
    ...baselines.review.policies
      .filter((p) => p.reset)
      .map((p) => `${p.policy}: baseline since ${baselines.review.since}`),
  ];
  return {
    id: `friday-${at.toISOString().slice(0, 10)}`,
    requestedBy: FRIDAY_REQUESTER,
    changes,
    reason: `Friday promotion (seed 000), week ${review.from}..${review.to}: ${what.join('; ')}`.slice(0, 2000),
  };
}

const EMPTY_BASELINES = { review: { since: '', held: null, policies: [] }, changes: [] };
