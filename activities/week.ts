import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../src/db/audit.repository';
import type { Database } from '../src/db/database';
import { attest } from '../src/db/governance-reports.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import type { CapitalBandThresholds } from '../src/domain/capital/bands';
import type { WeekActivities } from '../src/domain/autonomy/week-activities';
import { buildReview } from '../src/operator/review/monday-review';

/** The weekly governance workflow's reads and writes: the Monday review, and every event of the week, audited. */
export function createWeekActivities({
  db,
  capitalBands,
}: {
  db: Kysely<Database>;
  capitalBands: CapitalBandThresholds;
}): WeekActivities {
  return {
    async recordWeeklyReview({ week, at }) {
      const review = await buildReview(db, { until: new Date(at), capitalBands });
      const waiting = review.awaitingApproval;
      const summary = {
        health: review.health.status,
        broke: Object.values(review.broke).reduce((n, l) => n + l.count, 0),
        denied: review.denied.deals.total,
        drifted:
          review.drifted.tripwires.length + review.drifted.strategyDrift.length + review.drifted.strategyHealth.length,
        waiting: waiting.proposals.length + waiting.playbooks.length + (waiting.killSwitchRelease ? 1 : 0),
        positionsAtRisk: review.positionsAtRisk.count,
        unresolvedOutcomes: review.unresolvedOutcomes.count,
      };
      await recordAuditEvent(db, {
        actor: 'weekly-governance',
        kind: AuditKind.week.reviewRecorded,
        subject: `week:${week}`,
        details: { summary, review },
        idempotencyKey: `week:${week}:review`,
      });
      return summary;
    },

    async auditWeekEvent({ week, kind, actor, details, key }) {
      await recordAuditEvent(db, {
        actor,
        kind: AuditKind.week[WEEK_AUDIT_KINDS[kind]],
        subject: `week:${week}`,
        details,
        idempotencyKey: key,
      });
    },

    attestReadiness: (input) => attest(db, input),
  };
}

const WEEK_AUDIT_KINDS = {
  acknowledged: 'reviewAcknowledged',
  held: 'held',
  released: 'released',
  noted: 'noted',
  attested: 'attested',
  refused: 'refused',
  review_unacknowledged: 'reviewUnacknowledged',
  friday_decided: 'fridayDecided',
} as const;
