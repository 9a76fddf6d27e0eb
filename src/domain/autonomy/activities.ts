import type { BaselineReview } from '../watchdogs/baselines';
import type { ProposalEvent } from '../audit/kinds';
import type { PolicyChangeStart } from '../change-requests/request';
import type { HeimdallWeekReview } from '../prod-eligibility/promotion';
import type { ApplyMode, ExecutionClass } from '../control-plane/types';
import type { BreakerTrip } from './breakers';
import type { CommandDenialReason, CommandGate } from './commands';
import type { AutonomyMetrics, CommandStatus, IncidentSeverity } from './metrics';
import type { ApproverRole, Phase } from './phases';
import type { ExpansionDecision, ProposalTerms, ProposalView, RecordedProposalTerms } from './proposals';
import type { ReadinessReport } from './readiness';

// The autonomy activity contracts: Warden's own (activities/autonomy.ts) and
// the user's command executor. Workflows proxy them; no Node, no SQL here.

export interface CommandInput {
  commandId: string;
  commandType: string;
  params: Record<string, unknown>;
  /** Since command-governed: the command type's class (its policy, or the producer's stricter ask). */
  executionClass?: ExecutionClass;
  /** Since command-governed: the apply mode to run in, never `live` for SANDBOX_EXEC (never `dry_run`: that never executes). */
  applyMode?: ApplyMode;
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
  /** A denied command: the gate and reason (audited with the outcome). */
  denial?: { gate: CommandGate; reason: CommandDenialReason };
  /** Since command-governed: the class and effective apply mode the gates decided. */
  executionClass?: ExecutionClass;
  applyMode?: ApplyMode;
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

/** The Friday review and the change request it asks for (null: none this week). */
export interface HeimdallWeekAnswer {
  review: HeimdallWeekReview;
  /** Seed 000's baseline resets, proposed in the same request (absent from answers recorded before them). */
  baselines?: BaselineReview;
  request: PolicyChangeStart | null;
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
  /** Several refusals of one subject in one transaction, in order (since batched-refusal-audits). */
  auditRejectedMessages(input: {
    subject: string;
    refusals: { message: string; payload: unknown; problem: string; key: string }[];
  }): Promise<void>;
  saveProposal(input: { view: ProposalView; actor: string; event: ProposalEvent }): Promise<void>;
  applyPhase(input: { proposalId: string; targetPhase: Phase; at: string }): Promise<void>;
  finishValidation(input: { proposalId: string }): Promise<void>;
  /** Steps 1–5 of seed 002's weekly cycle; the workflow starts the proposal and updates state. */
  prepareGovernanceReport(input: { at: string; minimumDaysOverride?: number }): Promise<GovernanceReportDraft>;
  /** Seed 000's Friday review of every Heimdall domain's week: what it earned, as change-request changes. */
  reviewHeimdallWeek(input: { at: string }): Promise<HeimdallWeekAnswer>;
  /** Stores the week's report once per key (default: its period, `at`); a retry answers the first report's id. */
  saveGovernanceReport(input: {
    report: Record<string, unknown>;
    proposalId: string | null;
    at: string;
    key?: string;
  }): Promise<string>;
}

/** Warden's answer to "what is proposal X": its recorded terms, or why there is nothing to run. */
export type LoadedProposal =
  { found: true; terms: RecordedProposalTerms } | { found: false; reason: string; phase: Phase };

/**
 * Warden-owned proposals (expansions here, promotions in the strategy contract): terms from Warden's
 * record, approvers from its approver table at decision time, the phase checked again before it widens.
 */
export interface ProposalActivities {
  /** The open record for this proposal id; without one, the refusal is audited (once per run) and `found` is false. */
  loadProposal(input: { proposalId: string; runId: string; claimed: unknown }): Promise<LoadedProposal>;
  /** Whether `approver` is on Warden's allowlist for `role` now (the approver table). */
  checkApprover(input: {
    role: ApproverRole;
    approver: string;
  }): Promise<{ ok: true } | { ok: false; problem: string }>;
  /** Whether Warden's breaker event `eventId` reverted this proposal's phase: its rule and detail, or why not. */
  confirmBreakerRevert(input: {
    proposalId: string;
    eventId: string;
  }): Promise<{ ok: true; rule: string; detail: string } | { ok: false; problem: string }>;
  /** Widens the phase only if it is still `fromPhase` (one step up); otherwise nothing changes and the answer says why. */
  applyProposedPhase(input: {
    proposalId: string;
    fromPhase: Phase;
    targetPhase: Phase;
    at: string;
  }): Promise<{ applied: true } | { applied: false; reason: string; phase: Phase }>;
}
