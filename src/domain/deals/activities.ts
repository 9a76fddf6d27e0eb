import type { ApplyMode, ExecutionClass } from '../control-plane/types';
import type { PermitDecision } from '../permits/decisions';
import type { EligibilityDecision } from '../prod-eligibility/rules';
import type { ReleaseOutcome, ReserveDecision, SettleOutcome } from '../risk/reservations';
import type { DealResult } from './types';

// The deal gates' activity contract: names, inputs and outputs. Workflows proxy
// it; activities/deal-gates.ts implements it. Free of Node and of SQL, so the
// workflow bundle and its type-check never see the implementation.

export type ExecutionAuthorization =
  | { authorized: true; applyMode: ApplyMode }
  | { authorized: false; gate: 'control_plane' | 'permit'; reason: string; detail: string };

// Each activity takes an idempotency key from the workflow: a retry after a
// commit returns the first outcome and counts nothing twice.
export interface DealActivities {
  reserveExposure(input: {
    key: string;
    engine: string;
    amount: number;
    actor: string;
    at: string;
  }): Promise<ReserveDecision>;
  settleResult(input: { key: string; realizedLoss: number; actor: string }): Promise<SettleOutcome>;
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
  }): Promise<ExecutionAuthorization>;
  revokePermit(input: { permitId: string; reason: string }): Promise<{ revoked: boolean }>;
  /** Seed 003 auto-disarm: the control plane drops to dry_run, audited there like any change. */
  disarmToDryRun(input: { symbol: string; dealId: string; detail: string }): Promise<void>;
  /** The deal's audit event and, for a deal that reached the executor, its KPI event: one transaction. */
  recordDealOutcome(input: {
    key: string;
    actor: string;
    result: DealResult;
    compensation: string | null;
    kpi: { domain: string; metric: string; success: boolean; value: number; at: string } | null;
  }): Promise<void>;
}
