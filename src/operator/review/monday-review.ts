import type { Kysely } from 'kysely';
import { listProposals } from '../../db/expansion-proposals.repository';
import { readControlPlaneState } from '../../db/control-plane.repository';
import type { Database } from '../../db/database';
import { readHealth } from '../../db/health.repository';
import { type ReviewBroke, reviewBroke } from '../../db/review/broke';
import { type ReviewDenied, reviewDenied } from '../../db/review/denied';
import { listEnabledStrategyIds, type ReviewDrift, reviewDrift } from '../../db/review/drift';
import { listPlaybooksInProgress } from '../../db/review/waiting';
import { type PositionAtRisk, reviewPositionsAtRisk, reviewUnresolved } from '../../db/review/positions';
import type { UnresolvedDeal } from '../../db/deal-claims.repository';
import type { Listed } from '../../db/review/shared';
import { tradingStateOf } from '../../domain/control-plane/rules';
import { strategyReport } from '../../db/strategy.repository';
import type { ProposalStatus } from '../../domain/autonomy/proposals';
import type { CapitalBandThresholds, CapitalUsage } from '../../domain/capital/bands';
import type { ApplyMode, TradingState } from '../../domain/control-plane/types';
import { PLAYBOOK } from '../../domain/go-live/playbook';
import type { HealthReport } from '../../domain/system-health/rules';
import type { WaitingWorkflow } from './waiting-workflows';

export type { Listed } from '../../db/review/shared';

/**
 * Seed 000's Monday control-plane review: what broke, what was denied, what
 * drifted since the last review, what waits for a person, and the health and
 * capital band it all adds up to. Read-only, plain JSON.
 */
export interface MondayReview {
  generatedAt: string;
  since: string;
  health: HealthReport;
  capital: CapitalUsage;
  controlPlane: {
    goLiveEnabled: boolean;
    /** active, reducing (the kill switch in reduce mode) or halted. */
    tradingState: TradingState;
    killSwitchEngaged: boolean;
    killSwitchSource: string | null;
    applyMode: ApplyMode;
    reason: string | null;
  };
  broke: ReviewBroke;
  denied: ReviewDenied;
  /** Positions Warden keeps that are not flat, the largest first: what a halt still has to close. */
  positionsAtRisk: Listed<PositionAtRisk>;
  /** Deals whose outcome is unknown, the oldest first: money held until someone reconciles them. */
  unresolvedOutcomes: Listed<UnresolvedDeal>;
  drifted: ReviewDrift & {
    /** Enabled strategies carrying health debt or paused. */
    strategyHealth: {
      strategyId: string;
      level: string;
      paused: boolean;
      score: number;
      debt: number;
      sizingMultiplier: number;
    }[];
  };
  awaitingApproval: {
    proposals: {
      proposalId: string;
      status: ProposalStatus;
      fromPhase: string;
      targetPhase: string;
      missingRoles: string[];
      approvedBy: string[];
      expiresAt: string;
    }[];
    /** Approvals gathered towards releasing the engaged kill switch; null when none is under way. */
    killSwitchRelease: { approvals: { actor: string; role: string; at: string }[] } | null;
    /** Open workflows waiting on a person; null when Temporal was not asked (see listWaitingWorkflows). */
    workflows: WaitingWorkflow[] | null;
    /** Go-live playbooks under way, with the step an operator must do next. */
    playbooks: {
      id: string;
      startedBy: string;
      startedAt: string;
      stepsDone: number;
      stepsTotal: number;
      nextStep: string | null;
    }[];
  };
}

export const DEFAULT_REVIEW_PERIOD_MS = 7 * 24 * 60 * 60 * 1000;

export interface ReviewOptions {
  /** Start of the period; default a week before `until`. */
  since?: Date;
  /** End of the period; default now. */
  until?: Date;
  capitalBands: CapitalBandThresholds;
  canaryThreshold?: number;
  /** From listWaitingWorkflows, when the caller can reach Temporal. */
  waitingWorkflows?: WaitingWorkflow[];
}

/** Enabled strategies carrying health debt or paused, from each one's strategy report. */
async function strategiesInDebt(db: Kysely<Database>): Promise<MondayReview['drifted']['strategyHealth']> {
  const strategyHealth: MondayReview['drifted']['strategyHealth'] = [];
  for (const id of await listEnabledStrategyIds(db)) {
    const report = await strategyReport(db, id);
    if (!report || (report.health.debt === 0 && !report.strategy.paused)) continue;
    strategyHealth.push({
      strategyId: id,
      level: report.strategy.level,
      paused: report.strategy.paused,
      score: report.health.score,
      debt: report.health.debt,
      sizingMultiplier: report.health.sizingMultiplier,
    });
  }
  return strategyHealth;
}

export async function buildReview(db: Kysely<Database>, options: ReviewOptions): Promise<MondayReview> {
  const until = options.until ?? new Date();
  const since = options.since ?? new Date(until.getTime() - DEFAULT_REVIEW_PERIOD_MS);
  const period = { since, until };
  const health = await readHealth(
    db,
    { capitalBands: options.capitalBands, canaryThreshold: options.canaryThreshold },
    until,
  );
  const controlPlane = await readControlPlaneState(db);
  const broke = await reviewBroke(db, period);
  const denied = await reviewDenied(db, period);
  const [positionsAtRisk, unresolvedOutcomes] = await Promise.all([
    reviewPositionsAtRisk(db),
    reviewUnresolved(db, until),
  ]);
  const { tripwires, strategyDrift, strategyChanges, scorecards } = await reviewDrift(db, period);
  const drifted: MondayReview['drifted'] = {
    tripwires,
    strategyDrift,
    strategyChanges,
    strategyHealth: await strategiesInDebt(db),
    scorecards,
  };

  const proposals = await listProposals(db, { openOnly: true });
  const playbooks = await listPlaybooksInProgress(db);
  const awaitingApproval: MondayReview['awaitingApproval'] = {
    proposals: proposals.map((p) => ({
      proposalId: p.proposalId,
      status: p.status,
      fromPhase: p.fromPhase,
      targetPhase: p.targetPhase,
      missingRoles: p.missingRoles,
      approvedBy: p.approvals.map((a) => `${a.approver} (${a.role})`),
      expiresAt: p.expiresAt,
    })),
    killSwitchRelease:
      controlPlane.killSwitchEngaged && controlPlane.releaseApprovals.length > 0
        ? { approvals: controlPlane.releaseApprovals }
        : null,
    // Proposals and the release are listed above from Warden's own records: not twice.
    workflows:
      options.waitingWorkflows?.filter((w) => w.kind !== 'expansion_proposal' && w.kind !== 'kill_switch_release') ??
      null,
    playbooks: playbooks.map((p) => ({
      id: p.id,
      startedBy: p.started_by,
      startedAt: p.started_at.toISOString(),
      stepsDone: p.steps.length,
      stepsTotal: PLAYBOOK.length,
      nextStep: PLAYBOOK.find((step) => !p.steps.some((done) => done.step === step.id))?.id ?? null,
    })),
  };

  const { band, ...healthReport } = health;
  return {
    generatedAt: until.toISOString(),
    since: since.toISOString(),
    health: healthReport,
    capital: band,
    controlPlane: {
      goLiveEnabled: controlPlane.goLiveEnabled,
      tradingState: tradingStateOf(controlPlane),
      killSwitchEngaged: controlPlane.killSwitchEngaged,
      killSwitchSource: controlPlane.killSwitchSource,
      applyMode: controlPlane.applyMode,
      reason: controlPlane.reason,
    },
    broke,
    denied,
    positionsAtRisk,
    unresolvedOutcomes,
    drifted,
    awaitingApproval,
  };
}
