import type { ApproverRole } from '../autonomy/phases';
import type { StrategyGateOutcome, StrategyOrder } from './gate';
import type { RecordedPromotion } from './messages';
import type { MaturityLevel, TradeStats } from './rules';

// The strategy gate's activity contract, implemented by activities/strategy-gate.ts.

/** One trade's realized P&L, fed back to its strategy. */
export interface StrategyOutcomeInput {
  strategyId: string;
  dealId: string;
  pnl: number;
  at: string;
}

export interface OutcomeEffects {
  demotedTo: MaturityLevel | null;
  promotionTo: MaturityLevel | null;
}

/** The terms of a promotion proposal, when a strategy's evidence now earns one. */
export interface PromotionProposal {
  strategyId: string;
  from: MaturityLevel;
  to: MaturityLevel;
  /** `profitFactor` as text: Infinity (no losses) does not survive JSON. */
  evidence: Omit<TradeStats, 'profitFactor'> & { profitFactor: string };
  approvers: Record<ApproverRole, string[]>;
}

export interface StrategyGateActivities {
  /** The strategy gate for one order; a KILL verdict engages the kill switch from the activity. */
  evaluateStrategyGate(order: StrategyOrder): Promise<StrategyGateOutcome>;
  /** The outcome, and — when the evidence now earns it — the terms of a promotion proposal. */
  recordStrategyOutcome(input: StrategyOutcomeInput): Promise<OutcomeEffects & { promotion: PromotionProposal | null }>;
  /** Applies an approved promotion if the strategy is still where the proposal found it. */
  promoteStrategy(input: {
    strategyId: string;
    from: MaturityLevel;
    to: MaturityLevel;
    approver: string;
    role: string;
    /** Since Warden-owned proposals: the promotion record, closed with the outcome; a stale one is audited. */
    proposalId?: string;
  }): Promise<boolean>;
}

/**
 * Warden-owned promotions: the terms come from Warden's record, keyed by the workflow id
 * (`promotionWorkflowId`), never from the start payload.
 */
export interface PromotionActivities {
  /** The open promotion record for this id; without one, the refusal is audited (once per run) and `found` is false. */
  loadPromotion(input: {
    proposalId: string;
    runId: string;
    claimed: unknown;
  }): Promise<{ found: true; terms: RecordedPromotion } | { found: false; reason: string }>;
  /** Closes the record when the promotion ends without applying (rejected, expired), so the id cannot be run again. */
  closePromotion(input: { proposalId: string; status: string }): Promise<void>;
}
