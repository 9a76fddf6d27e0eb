import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

// Execution permits, permit blocks and disarm records (seed 003).

export interface ExecutionPermitTable {
  id: string;
  idempotency_key: string;
  deal_id: string;
  symbol: string;
  issued_at: Date;
  expires_at: Date;
  status: 'issued' | 'consumed' | 'revoked';
  consumed_at: Date | null;
}

export interface PermitBlockTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string;
  deal_id: string;
  symbol: string;
  reason: string;
  at: Date;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export interface DisarmRecordTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string;
  reason: string;
  symbol: string;
  at: Date;
  context: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export type ExecutionPermitRow = Selectable<ExecutionPermitTable>;
export type NewExecutionPermit = Insertable<ExecutionPermitTable>;
export type ExecutionPermitUpdate = Updateable<ExecutionPermitTable>;

export type PermitBlockRow = Selectable<PermitBlockTable>;
export type NewPermitBlock = Insertable<PermitBlockTable>;
export type PermitBlockUpdate = Updateable<PermitBlockTable>;

export type DisarmRecordRow = Selectable<DisarmRecordTable>;
export type NewDisarmRecord = Insertable<DisarmRecordTable>;
export type DisarmRecordUpdate = Updateable<DisarmRecordTable>;
