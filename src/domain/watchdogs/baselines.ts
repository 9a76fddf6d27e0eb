import type { PolicyChangeOf } from '../change-requests/changes';
import { policyId, type RegressionPolicy } from './tripwire';

/**
 * Seed 000's Friday "reset regression baselines after good week": the week just reviewed becomes what each
 * tripwire compares against. Warden only proposes (a reset is a loosening: it forgets the old level); the
 * Friday change request carries it and people approve it.
 */

export interface TripwireWeek {
  policy: RegressionPolicy;
  /** KPI events of the policy since the week's first day (counted up to the window and baseline it needs). */
  eventsThisWeek: number;
}

export interface BaselineReview {
  /** The reset the proposals move to: the first day of the reviewed week, 00:00 UTC. */
  since: string;
  /** Set when the whole week is held back (nothing proposed), with why. */
  held: string | null;
  policies: { policy: string; reset: boolean; reason: string }[];
}

/**
 * A week is good when no tripwire fired in it. A policy is reset only when the week alone fills its window
 * and baseline, so the reset never leaves it blind; a disabled one, or one already reset to that day, is left.
 */
export function reviewBaselines(input: { since: string; weeks: TripwireWeek[]; tripwireFirings: number }): {
  review: BaselineReview;
  changes: PolicyChangeOf<'regression_policy'>[];
} {
  const held =
    input.tripwireFirings > 0
      ? `${input.tripwireFirings} regression tripwire firing(s) this week: baselines kept after a regression`
      : null;
  const changes: PolicyChangeOf<'regression_policy'>[] = [];
  const policies = input.weeks.map(({ policy, eventsThisWeek }) => {
    const id = policyId(policy);
    const needed = policy.windowEvents + policy.baselineEvents;
    const reason = held
      ? held
      : !policy.enabled
        ? 'disabled: kept'
        : policy.baselineSince !== undefined && policy.baselineSince >= input.since
          ? `already reset to ${policy.baselineSince}`
          : eventsThisWeek < needed
            ? `${eventsThisWeek} events this week < ${needed} its window and baseline need: kept`
            : null;
    if (reason !== null) return { policy: id, reset: false, reason };
    const { domain: _d, metric: _m, ...before } = policy;
    changes.push({ kind: 'regression_policy', target: id, before, after: { ...before, baselineSince: input.since } });
    return { policy: id, reset: true, reason: `baseline reset to ${input.since} after a week without triggers` };
  });
  return { review: { since: input.since, held, policies }, changes };
}
