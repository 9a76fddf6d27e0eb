import type { ReviewSummary } from './week';

// The weekly governance workflow's activity contract, implemented by activities/week.ts.

/** What happened in the week, as its audit trail names it. */
export type WeekEventKind =
  'acknowledged' | 'held' | 'released' | 'noted' | 'attested' | 'refused' | 'review_unacknowledged' | 'friday_decided';

export interface WeekActivities {
  /** Seed 000's Monday review, recorded (its full text in the audit event); once per week. */
  recordWeeklyReview(input: { week: string; at: string }): Promise<ReviewSummary>;
  /** One event of the week, audited once per key (an unacknowledged review also notifies the operators). */
  auditWeekEvent(input: {
    week: string;
    kind: WeekEventKind;
    actor: string;
    details: Record<string, unknown>;
    key: string;
  }): Promise<void>;
  /** A readiness attestation (seed 002's checklist), as `warden attest` records it. */
  attestReadiness(input: { item: string; passed: boolean; actor: string; note?: string }): Promise<void>;
}
