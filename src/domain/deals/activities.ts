import type { ApplyMode, ExecutionClass } from '../control-plane/types';
import type { PermitDecision } from '../permits/decisions';
import type { EligibilityDecision } from '../prod-eligibility/rules';
import type { ReleaseOutcome, ReserveDecision, SettleOutcome } from '../risk/reservations';
import type { Admission } from './policy';
import type { PositionKey } from './positions';
import type { ClaimOutcome } from './claims';
import type { DealResult, DealTerms } from './types';
import type { StrategyGateOutcome, StrategyOrder } from '../strategy/gate';

// The deal gates' activity contract: names, inputs and outputs. Workflows proxy
// it; activities/deal-gates.ts implements it. Free of Node and of SQL, so the
// workflow bundle and its type-check never see the implementation.

export type ExecutionAuthorization =
  | {
      authorized: true;
      applyMode: ApplyMode;
      /** How long one executor attempt may run once started (governor settings); since deal-reconciliation. */
      executorTimeoutSeconds?: number;
    }
  | {
      authorized: false;
      gate: 'control_plane' | 'permit';
      reason: string;
      detail: string;
      /** Another run of this deal already used the permit: it may have executed, so reconcile, never compensate. */
      ambiguous?: boolean;
    };

/** Whether a reconcileDeal counted; a release without its approved change request does not. */
export type ReconciliationAudit = { counted: true } | { counted: false; problem: string };

/** What one sweep did: deals released (never reached the executor) and flagged (may have executed). */
export interface SweepReport {
  released: string[];
  flagged: string[];
  /** Holdings looked at whose workflow still runs (or cannot be identified). */
  kept: number;
}

/** What an executed deal does to Warden's position: the key it moves and the side; the amount is the reservation's. */
export interface SettlePosition {
  position: PositionKey;
  side: 'buy' | 'sell';
}

/** What reduce mode and the exit rules read of a deal: whose position it moves, which way, by how much. */
export interface DealExit {
  dealId: string;
  position: PositionKey;
  side: 'buy' | 'sell';
  amount: number;
}

export interface AdmitDealInput {
  dealId: string;
  engine: string;
  requestedClass: ExecutionClass;
  strategyId?: string;
  recommendationId?: string;
  executorTaskQueue?: string;
  ownTaskQueue: string;
  /**
   * Since deal-admitted-at-once, for a deal without a strategy step: clear it in the same transaction
   * (control plane, risk reserve, prod eligibility, permit). Without it, admission is the policy alone.
   */
  clear?: {
    key: string;
    amount: number;
    symbol: string;
    actor: string;
    at: string;
    domain?: string;
    /** Since trading states: the deal's side, so an exit (src/domain/deals/exits.ts) is held and judged as one. */
    side?: 'buy' | 'sell';
    /**
     * Since deal-strategy-at-once, a deal with a strategy step: its order, for seed 001's gate, decided in
     * admission's transaction after the control plane. Only an order that goes on at once (no approval, no
     * shadow, not denied) is cleared, at the size the gate leaves it, in a second transaction of the same
     * activity (the gate's hold on its strategy's row ends first); any other leaves the deal's strategy
     * step to go on from the outcome.
     */
    strategy?: StrategyOrder;
  };
}

/** Cleared: reserved, eligible and permitted; or denied at the first gate that refused, holding nothing. */
export type Clearance =
  | { cleared: true; permitId: string; expiresAt: string }
  | {
      cleared: false;
      gate: 'control_plane' | 'risk' | 'prod_eligibility' | 'permit';
      reason: string;
      detail: string;
      /** A burst breach with auto-disarm on: the caller disarms the control plane. */
      disarm?: boolean;
      /** The reservation taken in the same transaction was given back. */
      released?: boolean;
    };

/**
 * The policy's admission, and what clearing the deal answered when it was asked to; with an order, the
 * strategy gate's outcome (once the control plane let the deal past it).
 */
export type DealAdmission = Admission & { clearance?: Clearance; strategy?: StrategyGateOutcome };

/** What a deal's end records: its audit event, its KPI event (a deal that reached the executor), its claim's result. */
export interface DealOutcomeRecord {
  key: string;
  actor: string;
  result: DealResult;
  compensation: string | null;
  kpi: { domain: string; metric: string; success: boolean; value: number; at: string } | null;
  /** The workflow holding the deal's claim: its result (or its wait for reconciliation) is recorded there. */
  claim?: { workflowId: string; runId: string };
}

/** Admission (issue 13 item 2; in one transaction since issue 16): what the deal is, and whether it may go on. */
export interface DealPolicyActivities {
  admitDeal(input: AdmitDealInput): Promise<DealAdmission>;
}

// Each activity takes an idempotency key from the workflow: a retry after a
// commit returns the first outcome and counts nothing twice.
export interface DealActivities {
  /**
   * Claims the deal id with its terms, first thing: a second workflow for the
   * id gets the first one's result (same terms) or a denial; a new run of a
   * workflow whose permit was used is told to reconcile. Idempotent per run.
   */
  claimDeal(input: {
    dealId: string;
    terms: DealTerms;
    workflowId: string;
    runId: string;
    actor: string;
  }): Promise<ClaimOutcome>;
  reserveExposure(input: {
    key: string;
    engine: string;
    amount: number;
    actor: string;
    at: string;
    /** Since trading states: the deal, so an exit is held against its position and takes no exposure. */
    exit?: DealExit;
  }): Promise<ReserveDecision>;
  /**
   * Books the executed deal: releases its open risk, books the realized loss
   * and, given `position` (since patch `deal-policy`), moves Warden's own
   * position in the same transaction, once.
   */
  settleResult(input: {
    key: string;
    realizedLoss: number;
    actor: string;
    position?: SettlePosition;
    /** Since deal-settle-records-outcome: the deal's outcome, recorded in the settle's transaction. */
    outcome?: DealOutcomeRecord;
  }): Promise<SettleOutcome>;
  releaseReservation(input: { key: string; actor: string; reason: string }): Promise<ReleaseOutcome>;
  assertProdEligible(input: {
    recommendationId: string;
    domain?: string;
    actor: string;
    correlationId: string;
  }): Promise<EligibilityDecision>;
  issuePermit(input: {
    key: string;
    dealId: string;
    symbol: string;
    at: string;
    actor: string;
  }): Promise<PermitDecision>;
  /**
   * The last gate before the executor: the control plane is read again (a
   * kill switch engaged since the first check stops the deal here), and only
   * then is the permit used.
   */
  authorizeExecution(input: {
    permitId: string;
    dealId: string;
    executionClass: ExecutionClass;
    at: string;
    /** The run asking: the deal's claim lets only its own workflow use the permit, once. */
    run?: { workflowId: string; runId: string };
  }): Promise<ExecutionAuthorization>;
  /** By id, or (since deal-admitted-at-once) by the deal's key when the run never heard the id. */
  revokePermit(
    input: { permitId: string; reason: string } | { key: string; reason: string },
  ): Promise<{ revoked: boolean }>;
  /** Seed 003 auto-disarm: the control plane drops to dry_run, audited there like any change. */
  disarmToDryRun(input: { symbol: string; dealId: string; detail: string }): Promise<void>;
  /** The deal's audit event and, for a deal that reached the executor, its KPI event: one transaction. */
  recordDealOutcome(input: DealOutcomeRecord): Promise<void>;
  /**
   * An operator's `reconcileDeal`, audited with the actor; the workflow then settles or releases. With
   * `releaseNeedsApproval` (since deal-release-approval) a release counts only under an applied `deal_release`
   * change request for the deal; one that does not is audited as refused, and the deal keeps waiting.
   */
  auditReconciliation(input: {
    key: string;
    dealId: string;
    executed: boolean;
    realizedLoss: number;
    actor: string;
    reason: string;
    changeRequestId?: string;
    releaseNeedsApproval?: boolean;
  }): Promise<ReconciliationAudit | undefined>;
}

/** The scheduled sweep of reservations and permits whose deal workflow is closed. */
export interface ReservationSweepActivities {
  sweepOrphanedHoldings(input: { at: string }): Promise<SweepReport>;
}
