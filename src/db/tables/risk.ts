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
  exits_ignore_loss_cap: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

/** A view: an engine's day summed over its stripes, one row per engine and day as it always was. */
export interface RiskLedgerDayTable {
  engine: ColumnType<string, never, never>;
  /** UTC day, 'YYYY-MM-DD'. */
  day: ColumnType<string, never, never>;
  exposure_used: ColumnType<number, never, never>;
  open_risk_reserved: ColumnType<number, never, never>;
  realized_loss: ColumnType<number, never, never>;
  actions: ColumnType<number, never, never>;
}

/** One stripe of an engine's day (src/domain/risk/stripes.ts): what it uses and its share of each cap. */
export interface RiskLedgerStripeTable {
  engine: string;
  day: string;
  stripe: number;
  exposure_used: Generated<number>;
  open_risk_reserved: Generated<number>;
  realized_loss: Generated<number>;
  actions: Generated<number>;
  /** Null: the policy sets no such cap. */
  exposure_share: number | null;
  open_risk_share: number | null;
  actions_share: number | null;
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
  /** The ledger stripe its exposure sits on (reservations before striping: 0). */
  stripe: Generated<number>;
  /** False for an exit: its release gives back open risk and the action, but no exposure it never took. */
  counts_exposure: Generated<boolean>;
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
export type RiskLedgerStripeRow = Selectable<RiskLedgerStripeTable>;

export type RiskReservationRow = Selectable<RiskReservationTable>;
export type NewRiskReservation = Insertable<RiskReservationTable>;
export type RiskReservationUpdate = Updateable<RiskReservationTable>;

export type RiskEventRow = Selectable<RiskEventTable>;
export type NewRiskEvent = Insertable<RiskEventTable>;
export type RiskEventUpdate = Updateable<RiskEventTable>;
