import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

// Risk guard (seed 000): engine policies, the daily ledger, reservations and immutable risk events.

/** Money columns are numeric(18,2), read as JS numbers; arithmetic on them happens in cents. */
export interface RiskPolicyTable {
  engine: string;
  max_daily_loss: number | null;
  max_daily_exposure: number | null;
  max_open_risk: number | null;
  max_actions_per_day: number | null;
  enabled: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface RiskLedgerDayTable {
  engine: string;
  /** UTC day, 'YYYY-MM-DD'. */
  day: string;
  exposure_used: Generated<number>;
  open_risk_reserved: Generated<number>;
  realized_loss: Generated<number>;
  actions: Generated<number>;
}

export type ReservationStatus = 'reserved' | 'denied' | 'settled' | 'released';

export interface RiskReservationTable {
  idempotency_key: string;
  engine: string;
  day: string;
  amount: number;
  status: ReservationStatus;
  denial_scope: string | null;
  denial_reason: string | null;
  realized_loss: number | null;
  actor: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface RiskEventTable {
  id: ColumnType<string, never, never>;
  at: Generated<Date>;
  engine: string;
  kind: 'RESERVE' | 'SETTLE' | 'RELEASE';
  ok: boolean;
  reason: string | null;
  amount: number;
  idempotency_key: string;
  actor: string;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export type RiskPolicyRow = Selectable<RiskPolicyTable>;
export type NewRiskPolicy = Insertable<RiskPolicyTable>;
export type RiskPolicyUpdate = Updateable<RiskPolicyTable>;

export type RiskLedgerDayRow = Selectable<RiskLedgerDayTable>;
export type NewRiskLedgerDay = Insertable<RiskLedgerDayTable>;
export type RiskLedgerDayUpdate = Updateable<RiskLedgerDayTable>;

export type RiskReservationRow = Selectable<RiskReservationTable>;
export type NewRiskReservation = Insertable<RiskReservationTable>;
export type RiskReservationUpdate = Updateable<RiskReservationTable>;

export type RiskEventRow = Selectable<RiskEventTable>;
export type NewRiskEvent = Insertable<RiskEventTable>;
export type RiskEventUpdate = Updateable<RiskEventTable>;
