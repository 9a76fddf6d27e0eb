import { describe, expect, it } from 'vitest';
import { reviewBaselines } from '../../../src/domain/watchdogs/baselines';
import type { RegressionPolicy } from '../../../src/domain/watchdogs/tripwire';

const policy = (metric: string, over: Partial<RegressionPolicy> = {}): RegressionPolicy => ({
  domain: 'WHOLESALE',
  metric,
  engine: 'WHOLESALE',
  windowEvents: 50,
  baselineEvents: 200,
  maxDropFraction: 0.2,
  action: 'THROTTLE',
  enabled: true,
  ...over,
});
const since = '2026-11-28T00:00:00.000Z';

describe("seed 000's Friday baseline reset", () => {
  it('resets only a policy the week alone fills, to the week’s first day, as its whole settings', () => {
    const { review, changes } = reviewBaselines({
      since,
      tripwireFirings: 0,
      weeks: [
        { policy: policy('full'), eventsThisWeek: 250 },
        { policy: policy('short'), eventsThisWeek: 249 },
        { policy: policy('off', { enabled: false }), eventsThisWeek: 250 },
        { policy: policy('done', { baselineSince: since }), eventsThisWeek: 250 },
        { policy: policy('old', { baselineSince: '2026-11-21T00:00:00.000Z' }), eventsThisWeek: 250 },
      ],
    });
    expect(changes.map((c) => c.target)).toEqual(['WHOLESALE/full', 'WHOLESALE/old']);
    const { domain: _d, metric: _m, ...settings } = policy('full');
    expect(changes[0]).toEqual({
      kind: 'regression_policy',
      target: 'WHOLESALE/full',
      before: settings,
      after: { ...settings, baselineSince: since },
    });
    expect(review.policies.find((p) => p.policy === 'WHOLESALE/short')?.reason).toContain('249 events');
  });

  it('a week in which any tripwire fired resets nothing and says why', () => {
    const { review, changes } = reviewBaselines({
      since,
      tripwireFirings: 1,
      weeks: [{ policy: policy('full'), eventsThisWeek: 250 }],
    });
    expect(changes).toEqual([]);
    expect(review.held).toContain('1 regression tripwire firing');
  });
});
