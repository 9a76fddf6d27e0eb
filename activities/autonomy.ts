import type { Kysely } from 'kysely';
import { nextPhase } from '../src/domain/autonomy/phases';
import type { AutonomyActivities, BreakerEvaluation } from '../src/domain/autonomy/activities';
import { decideExpansion, expansionTermsFor, type ProposalTerms } from '../src/domain/autonomy/proposals';
import { appendAuditEvent, recordRefusedMessage, recordRefusedMessages } from '../src/db/audit.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import {
  applyPhase,
  finishValidation,
  listApprovers,
  loadAutonomyContext,
  loadPhaseDefinitions,
  readGovernanceState,
} from '../src/db/autonomy.repository';
import { assessAndStoreReadiness, saveGovernanceReport } from '../src/db/governance-reports.repository';
import { collectMetrics, outcomesSince, recordCommandOutcome } from '../src/db/command-records.repository';
import { listProposals, recordExpansionProposal, saveProposal } from '../src/db/expansion-proposals.repository';
import {
  incidentsBetween,
  insertBreakerEvent,
  listBreakerEvents,
  listBreakerRules,
  lockBreakers,
  lockGovernanceState,
  markRevertedProposal,
  markRevertNoticed,
  openBreakerScopes,
  pendingRevertNotices,
  revertPhaseToL3,
  setPausedCommandTypes,
} from '../src/db/breakers.repository';
import type { Database } from '../src/db/database';
import { alreadyOpen, breakerEffects } from '../src/domain/autonomy/breaker-effects';
import { evaluateBreakers } from '../src/domain/autonomy/breakers';
import { fridayChangeRequest, reviewHeimdallWeek, reviewWindow } from '../src/domain/prod-eligibility/promotion';
import { heimdallWeek } from '../src/db/heimdall.repository';
import { kpiEventsSince, listRegressionPolicies } from '../src/db/watchdogs.repository';
import { reviewBaselines } from '../src/domain/watchdogs/baselines';
import { auditListed } from '../src/db/review/shared';

const DAY_MS = 86_400_000;

export interface AutonomyActivityDeps {
  db: Kysely<Database>;
  /** Tells a proposal under validation that a breaker reverted its phase. */
  notifyProposal?: (proposalId: string, payload: { rule: string; detail: string; eventId: string }) => Promise<void>;
}

export function createAutonomyActivities({ db, notifyProposal }: AutonomyActivityDeps): AutonomyActivities {
  return {
    loadAutonomyContext: () => loadAutonomyContext(db),

    /** Stores the outcome, then runs the breakers on it (seed 002: evaluated after each command outcome). */
    async recordCommandOutcome(outcome) {
      await recordCommandOutcome(db, outcome);
      return checkBreakers(new Date(outcome.at));
    },

    checkBreakers: (input) => checkBreakers(new Date(input.at)),

    async auditRejectedMessage(input) {
      await recordRefusedMessage(db, {
        kind: AuditKind.autonomy.messageRejected,
        subject: input.subject,
        actorField: 'approver',
        message: input.message,
        payload: input.payload,
        problem: input.problem,
        key: input.key,
      });
    },

    auditRejectedMessages: (input) =>
      recordRefusedMessages(
        db,
        { kind: AuditKind.autonomy.messageRejected, subject: input.subject, actorField: 'approver' },
        input.refusals,
      ),

    saveProposal: (input) => saveProposal(db, input.view, input.actor, input.event),
    applyPhase: (input) => applyPhase(db, input),
    finishValidation: (input) => finishValidation(db, input.proposalId),

    /** Steps 1–5 of seed 002's weekly cycle; the workflow starts the proposal and updates state. */
    async prepareGovernanceReport(input) {
      const at = new Date(input.at);
      const metrics = await collectMetrics(db, new Date(at.getTime() - 7 * DAY_MS), at);
      const readiness = await assessAndStoreReadiness(db, at);
      const breakers = await checkBreakers(at);
      const unresolved = await listBreakerEvents(db, { unresolvedOnly: true });
      const open = await listProposals(db, { openOnly: true });
      const state = await readGovernanceState(db);
      const phases = await loadPhaseDefinitions(db);
      const current = phases.find((p) => p.phase === state.phase);
      const next = nextPhase(state.phase);
      const nextDef = phases.find((p) => p.phase === next);
      const daysAtPhase = (at.getTime() - Date.parse(state.phaseSince)) / DAY_MS;
      const decision = decideExpansion({
        phase: state.phase,
        next:
          nextDef && nextDef.validationDays !== null
            ? {
                phase: nextDef.phase,
                commands: nextDef.addedCommands,
                validationDays: nextDef.validationDays,
                requiredRoles: nextDef.requiredRoles,
              }
            : undefined,
        daysAtPhase,
        currentValidationDays: current?.validationDays ?? null,
        readiness,
        unresolvedBreakerEvents: unresolved.length,
        openProposals: open.length,
      });
      let terms: ProposalTerms | null = null;
      if (decision.expand && nextDef && nextDef.validationDays !== null) {
        const recorded = expansionTermsFor({
          phase: state.phase,
          next: { ...nextDef, validationDays: nextDef.validationDays },
          at,
          achievements: [
            `readiness ${readiness.score}/80 (${readiness.status})`,
            `${Math.floor(daysAtPhase)} days at ${state.phase}`,
            `success rate ${metrics.successRate === null ? 'n/a' : `${(metrics.successRate * 100).toFixed(2)}%`} over ${metrics.total} commands in 7 days`,
            'no unresolved circuit breaker events',
          ],
          requestedBy: 'governance-cycle',
        });
        // Warden's own record, keyed by the proposal id: the proposal workflow loads its terms from here.
        await recordExpansionProposal(db, recorded);
        const { requestedBy, expiresInDays, ...shown } = recorded;
        // The report (and, for old histories, the child's input) still shows the allowlist of the day.
        terms = { ...shown, approvers: await listApprovers(db) };
      }
      return {
        metrics,
        readiness: {
          score: readiness.score,
          status: readiness.status,
          blockers: readiness.blockers,
          categories: readiness.categories,
        },
        breakers: breakers.trips,
        decision,
        terms,
        phase: state.phase,
      };
    },

    /** Read-only: the review proposes, the change request the cycle opens decides and applies. */
    async reviewHeimdallWeek(input) {
      const at = new Date(input.at);
      const window = reviewWindow(at);
      const tripwires = await auditListed(
        db,
        { since: new Date(`${window.from}T00:00:00Z`), until: at },
        [AuditKind.tripwire.triggered],
        () => null,
      );
      const review = reviewHeimdallWeek({
        at,
        domains: await heimdallWeek(db, window),
        tripwireFirings: tripwires.count,
      });
      const since = new Date(`${window.from}T00:00:00Z`);
      const weeks = await Promise.all(
        (await listRegressionPolicies(db)).map(async (policy) => ({
          policy,
          eventsThisWeek: await kpiEventsSince(db, policy, since, at, policy.windowEvents + policy.baselineEvents),
        })),
      );
      const baselines = reviewBaselines({ since: since.toISOString(), weeks, tripwireFirings: tripwires.count });
      return { review, baselines: baselines.review, request: fridayChangeRequest(at, review, baselines) };
    },

    saveGovernanceReport: (input) => saveGovernanceReport(db, input.report, input.proposalId, input.at, input.key),
  };

  async function checkBreakers(at: Date): Promise<BreakerEvaluation> {
    const result = await evaluateAndApplyBreakers(db, at);
    // Drain the outbox: a notice that failed before is sent on the retry.
    if (notifyProposal) {
      for (const notice of await pendingRevertNotices(db)) {
        await notifyProposal(notice.reverted_proposal_id!, {
          rule: notice.rule_name,
          detail: notice.detail,
          eventId: String(notice.id),
        });
        await markRevertNoticed(db, String(notice.id));
      }
    }
    return result;
  }
}

/**
 * Evaluates every enabled rule (src/domain/autonomy) and applies what newly
 * trips, one evaluation at a time. A rule with an unresolved event for the
 * same scope does not trip again.
 */
export async function evaluateAndApplyBreakers(db: Kysely<Database>, now: Date): Promise<BreakerEvaluation> {
  return db.transaction().execute(async (trx) => {
    await lockBreakers(trx);
    const rules = await listBreakerRules(trx, { ordered: false });
    const since = new Date(now.getTime() - DAY_MS);
    const outcomes = await outcomesSince(trx, since, now);
    const incidents = await incidentsBetween(trx, since, now);
    const open = await openBreakerScopes(trx);
    const result: BreakerEvaluation = { trips: [] };
    for (const trip of evaluateBreakers(rules, outcomes, incidents, now)) {
      if (alreadyOpen(open, trip)) continue;
      const eventId = await insertBreakerEvent(trx, trip, now);
      const state = await lockGovernanceState(trx);
      const effects = breakerEffects(trip, state);
      if (effects.revert) {
        await revertPhaseToL3(trx, now);
        if (effects.notifyProposal) await markRevertedProposal(trx, eventId, effects.notifyProposal);
      }
      if (effects.pausedCommandTypes) await setPausedCommandTypes(trx, effects.pausedCommandTypes, now);
      await appendAuditEvent(trx, {
        actor: 'circuit-breaker',
        kind: AuditKind.breakerTripped[trip.action],
        subject: `breaker:${trip.rule}`,
        details: { eventId, ...trip, fromPhase: state.current_phase },
      });
      result.trips.push({ ...trip, eventId });
    }
    return result;
  });
}
