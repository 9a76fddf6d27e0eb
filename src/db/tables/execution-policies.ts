import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ExecutionClass } from '../../domain/control-plane/types';
import type { PositionScope } from '../../domain/deals/positions';

// What an action is (issue 13): engine execution policies, and the positions
// Warden keeps from its own executed deals.

export interface ExecutionPolicyTable {
  engine: string;
  execution_class: ExecutionClass;
  strategy_required: Generated<boolean>;
  recommendation_required: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
  reason: string | null;
}

/** Net signed notional per (scope, scope id, symbol). Money columns are numeric(18,2), read as numbers. */
export interface PositionTable {
  scope: PositionScope;
  scope_id: string;
  symbol: string;
  quantity: Generated<number>;
  updated_by: string;
  updated_at: Generated<Date>;
}

/** What an admitted exit holds of its position until it settles or is released (src/domain/deals/exits.ts). */
export interface PositionExitHoldTable {
  idempotency_key: string;
  deal_id: string;
  scope: PositionScope;
  scope_id: string;
  symbol: string;
  amount: number;
  created_at: Generated<Date>;
}

/** Every change to a position: an executed deal's (keyed by the deal) or an operator's reconciliation. */
export interface PositionEventTable {
  id: ColumnType<string, never, never>;
  at: Generated<Date>;
  /** `deal:<dealId>` for a settled deal (unique: a retried settle moves the position once); null for reconciliations. */
  idempotency_key: string | null;
  scope: PositionScope;
  scope_id: string;
  symbol: string;
  source: 'deal' | 'reconcile';
  delta: number;
  quantity_after: number;
  actor: string;
  reason: string | null;
}

export type ExecutionPolicyRow = Selectable<ExecutionPolicyTable>;
export type NewExecutionPolicy = Insertable<ExecutionPolicyTable>;
export type ExecutionPolicyUpdate = Updateable<ExecutionPolicyTable>;

export type PositionRow = Selectable<PositionTable>;
export type NewPosition = Insertable<PositionTable>;
export type PositionUpdate = Updateable<PositionTable>;

export type PositionEventRow = Selectable<PositionEventTable>;
export type NewPositionEvent = Insertable<PositionEventTable>;
