import type { GateDecision, ImpactInput, MaturityLevel } from './rules';

/** The health tracker's rolling window. */
export const HEALTH_WINDOW = 20;
/** Outcomes behind the live win rate the drift detector compares. */
export const DRIFT_WINDOW = 50;
/** Consecutive canary failures after which the strategy gate votes KILL. */
export const CANARY_FAILING_AT = 3;

export interface StrategyOrder {
  traceId: string;
  strategyId: string;
  symbol: string;
  side: 'buy' | 'sell';
  /** Ignored: the gate reads Warden's own position. Kept so recorded histories' inputs still fit. */
  position: number;
  notional: number;
  impact: ImpactInput;
  tokenId: string | undefined;
  at: string;
}

export type StrategyGateOutcome =
  | { enabled: false }
  | {
      enabled: true;
      level: MaturityLevel;
      decision: GateDecision;
      approvers: Record<string, string[]>;
      kill: string | null;
    };

/** The drift vote from the latest evaluation of each metric (evaluations newest first): the worst wins. */
export function driftVerdict(
  evaluationsNewestFirst: readonly { metric: string; action: string }[],
): 'OK' | 'REDUCE_SIZE' | 'PAUSE' {
  const latestPerMetric = [
    ...new Map(evaluationsNewestFirst.map((d) => [d.metric, d.action] as const).reverse()).values(),
  ];
  return latestPerMetric.includes('PAUSE') ? 'PAUSE' : latestPerMetric.includes('REDUCE_SIZE') ? 'REDUCE_SIZE' : 'OK';
}

/**
 * What a deal does on the gate's outcome: goes on at a size (`paper`: traded on paper only; `governed`:
 * the gate decided it), waits for a human's approval of the order, ends as a shadow trade, or is denied.
 * One reading for the deal's own strategy step and for admission, which clears a deal that goes on at once.
 */
export type StrategyReading =
  SizedOrder | { next: 'approval'; gate: Extract<StrategyGateOutcome, { enabled: true }> } | { next: 'shadow' };
/** An order the gate let go on, at its size, or denied. */
export type SizedOrder =
  | { next: 'go'; amount: number; paper: boolean; governed: boolean; reducedTo?: number }
  | { next: 'denied'; reason: string; detail: string };

/** Reads the outcome for a deal of `amount`; `required`: the engine's policy requires the strategy. */
export function readStrategyOutcome(
  gate: StrategyGateOutcome,
  strategyId: string,
  amount: number,
  required: boolean,
): StrategyReading {
  // A strategy the engine's policy requires must still be governed here: disabled since admission is a denial.
  if (!gate.enabled && required)
    return { next: 'denied', reason: 'strategy_required', detail: `strategy ${strategyId} is no longer enabled` };
  if (!gate.enabled) return { next: 'go', amount, paper: false, governed: false };
  const d = gate.decision;
  if (d.action !== 'ALLOW' && d.action !== 'REDUCE_SIZE')
    return { next: 'denied', reason: d.action.toLowerCase(), detail: d.reasons.join('; ') };
  if (d.execution === 'shadow') return { next: 'shadow' };
  if (d.execution === 'approval' && !d.reduceOnlyExit) return { next: 'approval', gate };
  return sizeOrder(gate, amount);
}

/** The size the gate's verdict leaves an order of `amount` (to the cent, rounded down). */
export function sizeOrder(gate: Extract<StrategyGateOutcome, { enabled: true }>, amount: number): SizedOrder {
  const d = gate.decision;
  const sized = Math.floor(amount * d.sizeMultiplier * 100) / 100;
  if (sized <= 0)
    return { next: 'denied', reason: 'size_reduced_to_zero', detail: `size multiplier ${d.sizeMultiplier}` };
  return {
    next: 'go',
    amount: sized,
    paper: d.execution === 'paper',
    governed: true,
    ...(d.action === 'REDUCE_SIZE' ? { reducedTo: sized } : {}),
  };
}
