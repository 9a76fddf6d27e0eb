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
