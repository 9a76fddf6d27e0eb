import { describe, expect, it } from 'vitest';
import {
  fridayChangeRequest,
  MAX_CONFIDENCE_PROD,
  raisedThreshold,
  reviewDomain,
  reviewHeimdallWeek,
  reviewWindow,
  summariseWeek,
} from '../../../src/domain/prod-eligibility/promotion';
import type { HeimdallPolicy, Scorecard } from '../../../src/domain/prod-eligibility/rules';

// Seed 000's WHOLESALE_OFFER: 92% confidence, 75 trials, 82% success rate, prod use off.
const WHOLESALE: HeimdallPolicy = {
  domain: 'WHOLESALE_OFFER',
  minConfidenceProd: 0.92,
  minSandboxTrials: 75,
  minSandboxSuccessRate: 0.82,
  prodUseEnabled: false,
};
const AT = new Date('2026-12-04T23:00:00Z'); // a Friday
const card = (day: string, trials: number, successes: number, avgConfidence: number): Scorecard => ({
  domain: 'WHOLESALE_OFFER',
  day,
  trials,
  successes,
  successRate: trials ? successes / trials : 0,
  avgConfidence,
});
const weekOf = (...cards: Scorecard[]) => summariseWeek(reviewWindow(AT), cards);

describe('Friday promotion (seed 000)', () => {
  it('covers the cycle day and the six before it', () => {
    expect(reviewWindow(AT)).toEqual({ from: '2026-11-28', to: '2026-12-04' });
  });

  it('folds the days into one week, weighting confidence by trials, ignoring days outside it', () => {
    const week = weekOf(
      card('2026-11-27', 500, 0, 0.1),
      card('2026-11-28', 30, 27, 0.9),
      card('2026-12-04', 70, 63, 0.96),
    );
    expect(week).toMatchObject({ trials: 100, successes: 90, successRate: 0.9 });
    expect(week.avgConfidence).toBeCloseTo(0.942, 9);
  });

  it('raises half-way towards the average, at most two points, floored to 0.001, never down', () => {
    expect(raisedThreshold(0.92, 0.94)).toBe(0.93);
    expect(raisedThreshold(0.92, 0.99)).toBe(0.94);
    expect(raisedThreshold(0.92, 0.9255)).toBe(0.922);
    expect(raisedThreshold(0.92, 0.9205)).toBeUndefined();
    expect(raisedThreshold(0.92, 0.91)).toBeUndefined();
    expect(raisedThreshold(0.985, 1)).toBe(0.987);
    expect(raisedThreshold(0.98, 1)).toBe(0.985);
    expect(raisedThreshold(MAX_CONFIDENCE_PROD, 1)).toBeUndefined();
  });

  it('a good week proposes a higher threshold and prod use', () => {
    const review = reviewDomain(WHOLESALE, weekOf(card('2026-12-01', 40, 36, 0.95), card('2026-12-03', 60, 54, 0.95)));
    expect(review).toMatchObject({
      domain: 'WHOLESALE_OFFER',
      proposed: ['minConfidenceProd', 'prodUseEnabled'],
      before: WHOLESALE,
      after: { ...WHOLESALE, minConfidenceProd: 0.935, prodUseEnabled: true },
    });
    // The raised threshold stays below the average that earned it, so the gate still passes.
    expect(review.after!.minConfidenceProd).toBeLessThan(review.week.avgConfidence);
  });

  it('exactly 80% success is not above 80%: no raise, but prod use when the policy asks only 80%', () => {
    const policy = { ...WHOLESALE, minSandboxSuccessRate: 0.8 };
    const review = reviewDomain(policy, weekOf(card('2026-12-02', 100, 80, 0.95)));
    expect(review.proposed).toEqual(['prodUseEnabled']);
    expect(review.after).toEqual({ ...policy, prodUseEnabled: true });
  });

  it('too few trials proposes nothing, however good they were', () => {
    const review = reviewDomain(WHOLESALE, weekOf(card('2026-12-02', 74, 74, 0.99)));
    expect(review).toMatchObject({ proposed: [], after: null });
    expect(review.reasons[0]).toContain('74 sandbox trials this week < 75');
  });

  it('an empty week proposes nothing even with no trial minimum', () => {
    expect(reviewDomain({ ...WHOLESALE, minSandboxTrials: 0 }, weekOf())).toMatchObject({ proposed: [], after: null });
  });

  it('prod use stays off while a gate target is missed; the threshold may still rise', () => {
    // 81%: above the seed's 80% promotion bar, below this policy's 82% target.
    const review = reviewDomain(WHOLESALE, weekOf(card('2026-12-02', 100, 81, 0.95)));
    expect(review.proposed).toEqual(['minConfidenceProd']);
    expect(review.after).toMatchObject({ prodUseEnabled: false, minConfidenceProd: 0.935 });
    expect(review.reasons.join(' ')).toContain('prod use stays off: success 81.0% < 82.0%');

    const unsure = reviewDomain(WHOLESALE, weekOf(card('2026-12-02', 100, 90, 0.9)));
    expect(unsure).toMatchObject({ proposed: [], after: null });
    expect(unsure.reasons.join(' ')).toContain('avg confidence 0.900 < 0.92');
  });

  it('a domain already in prod gets only the threshold', () => {
    const review = reviewDomain({ ...WHOLESALE, prodUseEnabled: true }, weekOf(card('2026-12-02', 100, 90, 0.96)));
    expect(review.proposed).toEqual(['minConfidenceProd']);
  });

  it('a week with a tripwire firing holds every domain back', () => {
    const domains = [{ policy: WHOLESALE, cards: [card('2026-12-02', 100, 90, 0.96)] }];
    expect(reviewHeimdallWeek({ at: AT, domains, tripwireFirings: 0 }).domains[0]!.proposed).toHaveLength(2);
    const held = reviewHeimdallWeek({ at: AT, domains, tripwireFirings: 2 });
    expect(held.held).toContain('2 regression tripwire firing(s)');
    expect(held.domains[0]).toMatchObject({ proposed: [], after: null, week: { trials: 100 } });
  });

  it('asks for one request with every domain that earned something, as a system requester', () => {
    const other = { ...WHOLESALE, domain: 'BUYER_MATCH', minConfidenceProd: 0.9, prodUseEnabled: true };
    const review = reviewHeimdallWeek({
      at: AT,
      domains: [
        { policy: other, cards: [card('2026-12-02', 100, 70, 0.95)] },
        { policy: WHOLESALE, cards: [card('2026-12-02', 100, 90, 0.95)] },
      ],
      tripwireFirings: 0,
    });
    const { domain: _d, ...settings } = WHOLESALE;
    expect(fridayChangeRequest(AT, review)).toEqual({
      id: 'friday-2026-12-04',
      requestedBy: { name: 'warden:governance-cycle', roles: [] },
      changes: [
        {
          kind: 'heimdall_policy',
          target: 'WHOLESALE_OFFER',
          before: settings,
          after: { ...settings, minConfidenceProd: 0.935, prodUseEnabled: true },
        },
      ],
      reason:
        'Friday promotion (seed 000), week 2026-11-28..2026-12-04: WHOLESALE_OFFER: minConfidenceProd 0.92 → 0.935, prodUseEnabled false → true',
    });
    expect(fridayChangeRequest(AT, { ...review, domains: [review.domains[0]!] })).toBeNull();
  });
});
