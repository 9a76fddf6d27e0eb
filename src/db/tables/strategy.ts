import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { TradeStats } from '../../domain/strategy/rules';
import type { Json } from './json';

// Strategy gate (seed 001): strategies, outcomes, execution tokens, governance log, live-vs-backtest drift.

type Level = 'L0' | 'L1' | 'L2' | 'L3' | 'L4';

export interface StrategyTable {
  id: string;
  enabled: Generated<boolean>;
  level: ColumnType<Level, Level | undefined, Level>;
  level_since: Generated<Date>;
  paused: Generated<boolean>;
  paused_reason: string | null;
  capital: Generated<number>;
  token_required: Generated<boolean>;
  health_floor: Generated<number>;
  updated_at: Generated<Date>;
}

export interface StrategyOutcomeTable {
  id: ColumnType<string, never, never>;
  strategy_id: string;
  deal_id: string;
  pnl: number;
  at: Date;
  /** What recording it answered, for a retry; null on outcomes stored before it was kept. */
  effects: ColumnType<StoredOutcomeEffects | null, string | null | undefined, string | null>;
}

/** A recorded outcome's answer: the level it was decided from, and a promotion's evidence. */
export interface StoredOutcomeEffects {
  demotedTo: Level | null;
  promotionTo: Level | null;
  level: Level;
  /** `profitFactor` as text: Infinity (no losses) does not survive JSON. */
  evidence: (Omit<TradeStats, 'profitFactor'> & { profitFactor: string }) | null;
}

export interface ExecutionTokenTable {
  id: string;
  strategy_id: string;
  symbols: Json<string[]>;
  max_notional: number;
  actions: Json<('buy' | 'sell')[]>;
  trace_id: string;
  issued_by: string;
  issued_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export interface GovernanceLogTable {
  id: ColumnType<string, never, never>;
  trace_id: string;
  strategy_id: string;
  action: string;
  scores: Json<Record<string, unknown>>;
  details: Json<Record<string, unknown>>;
  duration_ms: number;
  at: Generated<Date>;
}

export interface DriftBaselineTable {
  strategy_id: string;
  metric: string;
  baseline_value: number;
  updated_by: string;
  updated_at: Generated<Date>;
}

export interface DriftEvaluationTable {
  id: ColumnType<string, never, never>;
  strategy_id: string;
  metric: string;
  baseline_value: number;
  live_value: number;
  deviation: number;
  action: 'OK' | 'REDUCE_SIZE' | 'PAUSE';
  at: Generated<Date>;
}

export type StrategyRow = Selectable<StrategyTable>;
export type NewStrategy = Insertable<StrategyTable>;
export type StrategyUpdate = Updateable<StrategyTable>;

export type StrategyOutcomeRow = Selectable<StrategyOutcomeTable>;
export type NewStrategyOutcome = Insertable<StrategyOutcomeTable>;
export type StrategyOutcomeUpdate = Updateable<StrategyOutcomeTable>;

export type ExecutionTokenRow = Selectable<ExecutionTokenTable>;
export type NewExecutionToken = Insertable<ExecutionTokenTable>;
export type ExecutionTokenUpdate = Updateable<ExecutionTokenTable>;

export type GovernanceLogRow = Selectable<GovernanceLogTable>;
export type NewGovernanceLog = Insertable<GovernanceLogTable>;
export type GovernanceLogUpdate = Updateable<GovernanceLogTable>;

export type DriftBaselineRow = Selectable<DriftBaselineTable>;
export type NewDriftBaseline = Insertable<DriftBaselineTable>;
export type DriftBaselineUpdate = Updateable<DriftBaselineTable>;

export type DriftEvaluationRow = Selectable<DriftEvaluationTable>;
export type NewDriftEvaluation = Insertable<DriftEvaluationTable>;
export type DriftEvaluationUpdate = Updateable<DriftEvaluationTable>;
