import { AuditKind } from '../audit/kinds';
import { ErrorType } from '../shared/errors';
import { addReservation, decideReserve, type LedgerDay, type RiskDenialReason, type RiskPolicy } from './rules';

export type ReservationStatus = 'reserved' | 'denied' | 'settled' | 'released';

export type ReserveDecision =
  | { ok: true; key: string; engine: string; amount: number; day: string }
  | {
      ok: false;
      key: string;
      engine: string;
      amount: number;
      day: string;
      scope: string;
      reason: RiskDenialReason | string;
      detail: string;
    };

export interface ReserveRequest {
  key: string;
  engine: string;
  amount: number;
  actor: string;
  at?: Date;
  /** An exit (judged and held against Warden's position by the caller): no daily exposure taken. */
  exit?: boolean;
}

/** What a reservation row holds of its decision. */
export interface StoredReservation {
  idempotency_key: string;
  engine: string;
  amount: number;
  day: string;
  status: ReservationStatus;
  denial_scope: string | null;
  denial_reason: string | null;
  realized_loss?: number | null;
}

export interface LedgerSnapshot {
  global: LedgerDay;
  engine: LedgerDay;
  policies: { global: RiskPolicy | undefined; engine: RiskPolicy | undefined };
}

/**
 * What a reserve whose key has a reservation gets. One settled or released is over: a new run (a reset)
 * asking again gets no exposure it does not hold. One still reserved (or a denial) is the first decision,
 * which a retry gets again.
 */
export function priorDecision(row: StoredReservation): ReserveDecision {
  if (row.status === 'settled' || row.status === 'released')
    return {
      ok: false,
      key: row.idempotency_key,
      engine: row.engine,
      amount: row.amount,
      day: row.day,
      scope: row.engine,
      reason: 'reservation_closed',
      detail: `reservation ${row.idempotency_key} was ${row.status} before`,
    };
  return storedDecision(row);
}

/** A retry's answer: the decision stored for its key the first time. */
function storedDecision(row: StoredReservation): ReserveDecision {
  const base = { key: row.idempotency_key, engine: row.engine, amount: row.amount, day: row.day };
  return row.status === 'denied'
    ? {
        ...base,
        ok: false,
        scope: row.denial_scope ?? row.engine,
        reason: row.denial_reason ?? 'denied',
        detail: 'decided earlier for this key',
      }
    : { ...base, ok: true };
}

/** Seed 000's reserve_exposure on the locked ledgers: the decision and the ledgers after it. */
export function decideReservation(
  request: { key: string; engine: string; amount: number },
  day: string,
  ledgers: LedgerSnapshot,
) {
  const check = decideReserve(request, ledgers.policies, ledgers);
  const after = check.ok
    ? { global: addReservation(ledgers.global, request.amount), engine: addReservation(ledgers.engine, request.amount) }
    : { global: ledgers.global, engine: ledgers.engine };
  const base = { key: request.key, engine: request.engine, amount: request.amount, day };
  const decision: ReserveDecision = check.ok
    ? { ...base, ok: true }
    : { ...base, ok: false, scope: check.scope, reason: check.reason, detail: check.detail };
  return { decision, after };
}

/** The audit event a reserve decision owes, allowed or denied; keyed so a retry appends it once. */
export function reserveAudit(decision: ReserveDecision, actor: string) {
  return {
    actor,
    kind: decision.ok ? AuditKind.risk.reserve : AuditKind.risk.reserveDenied,
    subject: `engine:${decision.engine}`,
    details: decision.ok
      ? { key: decision.key, amount: decision.amount, day: decision.day }
      : {
          key: decision.key,
          amount: decision.amount,
          day: decision.day,
          scope: decision.scope,
          reason: decision.reason,
          detail: decision.detail,
        },
    idempotencyKey: `risk:RESERVE:${decision.key}`,
  };
}

export class ReservationNotFoundError extends Error {
  override name = ErrorType.ReservationNotFound;
}
export class ReservationStateError extends Error {
  override name = ErrorType.ReservationStateError;
}

export interface SettleOutcome {
  key: string;
  status: 'settled';
  amount: number;
  realizedLoss: number;
}

/**
 * settle_result on a locked reservation: `settle` when it is reserved, the
 * first outcome when it was settled before (a retry); anything else is a fault.
 */
export function decideSettle(
  row: StoredReservation | undefined,
  key: string,
): { settle: true } | { settle: false; outcome: SettleOutcome } {
  if (!row) throw new ReservationNotFoundError(`no reservation with key ${key}`);
  if (row.status === 'settled')
    return {
      settle: false,
      outcome: {
        key: row.idempotency_key,
        status: 'settled',
        amount: row.amount,
        realizedLoss: row.realized_loss ?? 0,
      },
    };
  if (row.status !== 'reserved')
    throw new ReservationStateError(`reservation ${key} is ${row.status}; only a reserved one can settle`);
  return { settle: true };
}

export type ReleaseOutcome = { key: string; released: boolean; status: ReservationStatus | 'missing' };

/** Compensation on a locked reservation: only a reserved one is released; anything else is answered as it stands. */
export function decideRelease(
  row: StoredReservation | undefined,
  key: string,
): { release: true } | { release: false; outcome: ReleaseOutcome } {
  if (!row) return { release: false, outcome: { key, released: false, status: 'missing' } };
  if (row.status !== 'reserved')
    return { release: false, outcome: { key, released: row.status === 'released', status: row.status } };
  return { release: true };
}
