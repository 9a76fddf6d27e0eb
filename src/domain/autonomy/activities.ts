import type { ProposalEvent } from '../audit/kinds';
import type { BreakerTrip } from './breakers';
import type { AutonomyMetrics, CommandStatus, IncidentSeverity } from './metrics';
import type { ApproverRole, Phase } from './phases';
import type { ExpansionDecision, ProposalTerms, ProposalView } from './proposals';
import type { ReadinessReport } from './readiness';

// The autonomy activity contracts: Warden's own (activities/autonomy.ts) and
// the user's command executor. Workflows proxy them; no Node, no SQL here.

export interface CommandInput {
  commandId: string;
  commandType: string;
  params: Record<string, unknown>;
}

/** The user's side: an activity named `executeCommand`. Throw to fail; report a rollback or an incident in the result. */
export interface CommandExecutor {
  executeCommand(input: CommandInput): Promise<{
    rolledBack?: boolean;
    incident?: { severity: 'low' | 'medium' | 'high' | 'critical'; description: string };
  }>;
}

/** What a command needs to know before it runs: the phase, its whitelist, paused types, approvers. */
export interface AutonomyContext {
  phase: Phase;
  whitelist: { commands: string[]; allCommands: boolean };
  pausedCommandTypes: string[];
  approvers: Record<ApproverRole, string[]>;
}

export interface CommandOutcomeRecord {
  commandId: string;
  commandType: string;
  phase: Phase;
  autonomous: boolean;
  status: CommandStatus;
  approval: 'approved' | 'rejected' | 'timed_out' | 'refused_paused' | null;
  approver: string | null;
  role: string | null;
  detail: string | null;
  incident: { severity: IncidentSeverity; description: string } | null;
  at: string;
}

export interface BreakerEvaluation {
  trips: (BreakerTrip & { eventId: string })[];
}

/** Steps 1–5 of seed 002's weekly cycle, ready for the workflow to store and act on. */
export interface GovernanceReportDraft {
  metrics: AutonomyMetrics & { windowStart: string; windowEnd: string };
  readiness: Pick<ReadinessReport, 'score' | 'status' | 'blockers' | 'categories'>;
  breakers: BreakerEvaluation['trips'];
  decision: ExpansionDecision;
  terms: ProposalTerms | null;
  phase: Phase;
}

export interface AutonomyActivities {
  loadAutonomyContext(): Promise<AutonomyContext>;
  /** Stores the outcome, then runs the breakers on it (seed 002: evaluated after each command outcome). */
  recordCommandOutcome(outcome: CommandOutcomeRecord): Promise<BreakerEvaluation>;
  checkBreakers(input: { at: string }): Promise<BreakerEvaluation>;
  auditRejectedMessage(input: {
    subject: string;
    message: string;
    payload: unknown;
    problem: string;
    key: string;
  }): Promise<void>;
  saveProposal(input: { view: ProposalView; actor: string; event: ProposalEvent }): Promise<void>;
  applyPhase(input: { proposalId: string; targetPhase: Phase; at: string }): Promise<void>;
  finishValidation(input: { proposalId: string }): Promise<void>;
  /** Steps 1–5 of seed 002's weekly cycle; the workflow starts the proposal and updates state. */
  prepareGovernanceReport(input: { at: string; minimumDaysOverride?: number }): Promise<GovernanceReportDraft>;
  /** Stores the week's report once per key (default: its period, `at`); a retry answers the first report's id. */
  saveGovernanceReport(input: {
    report: Record<string, unknown>;
    proposalId: string | null;
    at: string;
    key?: string;
  }): Promise<string>;
}
