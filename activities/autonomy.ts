import type { Kysely } from 'kysely';
import { nextPhase, type Phase } from '../src/domain/autonomy/phases';
import { decideExpansion, type ProposalTerms, type ProposalView, riskFor } from '../src/domain/autonomy/proposals';
import { recordAuditEvent } from '../src/db/audit.repository';
import {
  applyPhase,
  assessAndStoreReadiness,
  collectMetrics,
  evaluateAndApplyBreakers,
  finishValidation,
  type CommandOutcomeRecord,
  listApprovers,
  listBreakerEvents,
  listProposals,
  loadAutonomyContext,
  loadPhaseDefinitions,
  markRevertNoticed,
  pendingRevertNotices,
  readGovernanceState,
  recordCommandOutcome,
  saveGovernanceReport,
  saveProposal,
} from '../src/db/autonomy.repository';
import type { Database } from '../src/db/database';

const DAY_MS = 86_400_000;

export interface CommandInput {
  commandId: string;
  commandType: string;
  params: Record<string, unknown>;
}

/** The user's side: an activity named `executeCommand`. Throw to fail; report a rollback or an incident in the result. */
export interface CommandExecutor {
  executeCommand(input: CommandInput): Promise<{ rolledBack?: boolean; incident?: { severity: 'low' | 'medium' | 'high' | 'critical'; description: string } }>;
}

export interface AutonomyActivityDeps {
  db: Kysely<Database>;
  /** Tells a proposal under validation that a breaker reverted its phase. */
  notifyProposal?: (proposalId: string, payload: { rule: string; detail: string; eventId: string }) => Promise<void>;
}

export function createAutonomyActivities({ db, notifyProposal }: AutonomyActivityDeps) {
  return {
    loadAutonomyContext: () => loadAutonomyContext(db),

    /** Stores the outcome, then runs the breakers on it (seed 002: evaluated after each command outcome). */
    async recordCommandOutcome(outcome: CommandOutcomeRecord) {
      await recordCommandOutcome(db, outcome);
      return checkBreakers(new Date(outcome.at));
    },

    checkBreakers: (input: { at: string }) => checkBreakers(new Date(input.at)),

    async auditRejectedMessage(input: { subject: string; message: string; payload: unknown; problem: string; key: string }): Promise<void> {
      const actor = typeof input.payload === 'object' && input.payload !== null && typeof (input.payload as { approver?: unknown }).approver === 'string' ? String((input.payload as { approver: string }).approver).slice(0, 200) : 'unknown';
      await recordAuditEvent(db, { actor, kind: 'autonomy.message_rejected', subject: input.subject, details: { message: input.message, payload: input.payload ?? null, problem: input.problem }, idempotencyKey: input.key });
    },

    saveProposal: (input: { view: ProposalView; actor: string; event: string }) => saveProposal(db, input.view, input.actor, input.event),
    applyPhase: (input: { proposalId: string; targetPhase: Phase; at: string }) => applyPhase(db, input),
    finishValidation: (input: { proposalId: string }) => finishValidation(db, input.proposalId),

    /** Steps 1–5 of seed 002's weekly cycle; the workflow starts the proposal and updates state. */
    async prepareGovernanceReport(input: { at: string; minimumDaysOverride?: number }) {
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
        next: nextDef && nextDef.validationDays !== null ? { phase: nextDef.phase, commands: nextDef.addedCommands, validationDays: nextDef.validationDays, requiredRoles: nextDef.requiredRoles } : undefined,
        daysAtPhase,
        currentValidationDays: current?.validationDays ?? null,
        readiness,
        unresolvedBreakerEvents: unresolved.length,
        openProposals: open.length,
      });
      let terms: ProposalTerms | null = null;
      if (decision.expand && nextDef && nextDef.validationDays !== null) {
        terms = {
          proposalId: `expansion-${nextDef.phase}-${at.toISOString().slice(0, 10)}`,
          fromPhase: state.phase,
          targetPhase: nextDef.phase,
          commands: nextDef.allCommands ? ['*all commands*', ...nextDef.addedCommands] : nextDef.addedCommands,
          validationDays: nextDef.validationDays,
          achievements: [
            `readiness ${readiness.score}/80 (${readiness.status})`,
            `${Math.floor(daysAtPhase)} days at ${state.phase}`,
            `success rate ${metrics.successRate === null ? 'n/a' : `${(metrics.successRate * 100).toFixed(2)}%`} over ${metrics.total} commands in 7 days`,
            'no unresolved circuit breaker events',
          ],
          risk: riskFor(nextDef.phase, nextDef.validationDays),
          requiredRoles: nextDef.requiredRoles,
          approvers: await listApprovers(db),
        };
      }
      return { metrics, readiness: { score: readiness.score, status: readiness.status, blockers: readiness.blockers, categories: readiness.categories }, breakers: breakers.trips, decision, terms, phase: state.phase };
    },

    saveGovernanceReport: (input: { report: Record<string, unknown>; proposalId: string | null; at: string }) => saveGovernanceReport(db, input.report, input.proposalId, input.at),
  };

  async function checkBreakers(at: Date) {
    const result = await evaluateAndApplyBreakers(db, at);
    // Drain the outbox: a notice that failed before is sent on the retry.
    if (notifyProposal) {
      for (const notice of await pendingRevertNotices(db)) {
        await notifyProposal(notice.reverted_proposal_id!, { rule: notice.rule_name, detail: notice.detail, eventId: String(notice.id) });
        await markRevertNoticed(db, String(notice.id));
      }
    }
    return result;
  }
}

/** Stand-in for the machine's command service, for the demo and tests: every command succeeds. */
export function createSimulatedCommandExecutor(): CommandExecutor {
  return { executeCommand: async () => ({}) };
}

export type AutonomyActivities = ReturnType<typeof createAutonomyActivities>;
