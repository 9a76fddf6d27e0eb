import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { addReservation, decideReserve, GLOBAL_ENGINE, type LedgerDay, type RiskDenialReason, type RiskPolicy, utcDay } from '../domain/risk/rules';
import { appendAuditEvent, recordAuditEvent } from './audit.repository';
import type { Database, ReservationStatus, RiskPolicyTable } from './database';

export type ReserveDecision =
  | { ok: true; key: string; engine: string; amount: number; day: string }
  | { ok: false; key: string; engine: string; amount: number; day: string; scope: string; reason: RiskDenialReason | string; detail: string };

export interface ReserveRequest {
  key: string;
  engine: string;
  amount: number;
  actor: string;
  at?: Date;
}

function toPolicy(row: Omit<Selectable<RiskPolicyTable>, 'updated_at' | 'updated_by'>): RiskPolicy {
  return {
    engine: row.engine,
    maxDailyLoss: row.max_daily_loss,
    maxDailyExposure: row.max_daily_exposure,
    maxOpenRisk: row.max_open_risk,
    maxActionsPerDay: row.max_actions_per_day,
    enabled: row.enabled,
  };
}

interface LockedLedgers {
  global: LedgerDay;
  engine: LedgerDay;
  policies: { global: RiskPolicy | undefined; engine: RiskPolicy | undefined };
}

/**
 * Locks the day's ledger rows, GLOBAL first (one lock order everywhere, so no
 * deadlocks), and reads both policies with them. A day's rows are created on
 * its first reserve.
 */
async function lockLedgers(trx: Transaction<Database>, engine: string, day: string): Promise<LockedLedgers> {
  const engines = engine === GLOBAL_ENGINE ? [GLOBAL_ENGINE] : [GLOBAL_ENGINE, engine];
  const select = () =>
    trx
      .selectFrom('risk_ledger_day as l')
      .leftJoin('risk_policy as p', 'p.engine', 'l.engine')
      .select([
        'l.engine',
        'l.exposure_used',
        'l.open_risk_reserved',
        'l.realized_loss',
        'l.actions',
        'p.engine as policy_engine',
        'p.max_daily_loss',
        'p.max_daily_exposure',
        'p.max_open_risk',
        'p.max_actions_per_day',
        'p.enabled',
        (eb) =>
          eb
            .exists(eb.selectFrom('engine_restriction as r').select('r.id').whereRef('r.engine', '=', 'l.engine').where('r.kind', '=', 'pause').where('r.cleared_at', 'is', null))
            .as('paused'),
      ])
      .where('l.day', '=', day)
      .where('l.engine', 'in', engines)
      .orderBy(sql`l.engine = ${GLOBAL_ENGINE}`, 'desc')
      .orderBy('l.engine')
      .forUpdate('l')
      .execute();
  let rows = await select();
  if (rows.length < engines.length) {
    await trx
      .insertInto('risk_ledger_day')
      .values(engines.map((e) => ({ engine: e, day })))
      .onConflict((oc) => oc.columns(['engine', 'day']).doNothing())
      .execute();
    rows = await select();
  }
  const row = (name: string) => rows.find((r) => r.engine === name)!;
  const ledger = (name: string): LedgerDay => {
    const r = row(name);
    return { exposureUsed: r.exposure_used, openRiskReserved: r.open_risk_reserved, realizedLoss: r.realized_loss, actions: r.actions };
  };
  const policy = (name: string): RiskPolicy | undefined => {
    const r = row(name);
    return r.policy_engine === null || r.enabled === null
      ? undefined
      : {
          ...toPolicy({ engine: r.policy_engine, max_daily_loss: r.max_daily_loss, max_daily_exposure: r.max_daily_exposure, max_open_risk: r.max_open_risk, max_actions_per_day: r.max_actions_per_day, enabled: r.enabled }),
          paused: Boolean(r.paused),
        };
  };
  return { global: ledger(GLOBAL_ENGINE), engine: ledger(engine), policies: { global: policy(GLOBAL_ENGINE), engine: policy(engine) } };
}

async function adjustLedgers(
  trx: Transaction<Database>,
  engine: string,
  day: string,
  delta: { exposure?: number; openRisk?: number; loss?: number; actions?: number },
): Promise<void> {
  const engines = engine === GLOBAL_ENGINE ? [GLOBAL_ENGINE] : [GLOBAL_ENGINE, engine];
  await trx
    .updateTable('risk_ledger_day')
    .set((eb) => ({
      exposure_used: eb('exposure_used', '+', delta.exposure ?? 0),
      open_risk_reserved: eb('open_risk_reserved', '+', delta.openRisk ?? 0),
      realized_loss: eb('realized_loss', '+', delta.loss ?? 0),
      actions: eb('actions', '+', delta.actions ?? 0),
    }))
    .where('day', '=', day)
    .where('engine', 'in', engines)
    .execute();
}

/** Every ledger movement gets an immutable risk event (seed 000's RiskEvent). */
async function recordRiskEvent(
  trx: Transaction<Database>,
  event: { engine: string; kind: 'RESERVE' | 'SETTLE' | 'RELEASE'; ok: boolean; reason: string | null; amount: number; key: string; actor: string; details: Record<string, unknown> },
): Promise<void> {
  await trx
    .insertInto('risk_event')
    .values({
      engine: event.engine,
      kind: event.kind,
      ok: event.ok,
      reason: event.reason,
      amount: event.amount,
      idempotency_key: event.key,
      actor: event.actor,
      details: JSON.stringify(event.details),
    })
    .execute();
}

/**
 * Reserve decisions, allowed or denied, also go on the audit chain, in a
 * transaction of their own: the ledger lock is never held while waiting for
 * the chain's lock. Keyed, so a retry after a crash between the two appends
 * it exactly once. Settles and releases follow from a decision and are
 * summarised in the deal's outcome event.
 */
async function auditReserveDecision(db: Kysely<Database>, decision: ReserveDecision, actor: string): Promise<void> {
  await recordAuditEvent(db, {
    actor,
    kind: decision.ok ? 'risk.reserve' : 'risk.reserve_denied',
    subject: `engine:${decision.engine}`,
    details: decision.ok
      ? { key: decision.key, amount: decision.amount, day: decision.day }
      : { key: decision.key, amount: decision.amount, day: decision.day, scope: decision.scope, reason: decision.reason, detail: decision.detail },
    idempotencyKey: `risk:RESERVE:${decision.key}`,
  });
}

function storedDecision(row: { idempotency_key: string; engine: string; amount: number; day: string; status: ReservationStatus; denial_scope: string | null; denial_reason: string | null }): ReserveDecision {
  const base = { key: row.idempotency_key, engine: row.engine, amount: row.amount, day: row.day };
  return row.status === 'denied'
    ? { ...base, ok: false, scope: row.denial_scope ?? row.engine, reason: row.denial_reason ?? 'denied', detail: 'decided earlier for this key' }
    : { ...base, ok: true };
}

/**
 * Seed 000's reserve_exposure with dual control. Atomic: both ledger rows are
 * locked before the check, so racing reserves cannot overshoot a cap. The
 * idempotency key makes a retry return the first decision, counted once.
 */
export async function reserveExposure(db: Kysely<Database>, request: ReserveRequest): Promise<ReserveDecision> {
  const day = utcDay(request.at ?? new Date());
  const decision = await db.transaction().execute(async (trx): Promise<ReserveDecision> => {
    const ledgers = await lockLedgers(trx, request.engine, day);
    // Under the lock, so a concurrent retry of the same key cannot also pass.
    const prior = await trx.selectFrom('risk_reservation').selectAll().where('idempotency_key', '=', request.key).executeTakeFirst();
    if (prior) return storedDecision(prior);
    const check = decideReserve(request, ledgers.policies, ledgers);
    const after = check.ok ? { global: addReservation(ledgers.global, request.amount), engine: addReservation(ledgers.engine, request.amount) } : ledgers;
    if (check.ok) await adjustLedgers(trx, request.engine, day, { exposure: request.amount, openRisk: request.amount, actions: 1 });
    await trx
      .insertInto('risk_reservation')
      .values({
        idempotency_key: request.key,
        engine: request.engine,
        day,
        amount: request.amount,
        status: check.ok ? 'reserved' : 'denied',
        denial_scope: check.ok ? null : check.scope,
        denial_reason: check.ok ? null : check.reason,
        actor: request.actor,
      })
      .execute();
    await recordRiskEvent(trx, {
      engine: request.engine,
      kind: 'RESERVE',
      ok: check.ok,
      reason: check.ok ? null : check.reason,
      amount: request.amount,
      key: request.key,
      actor: request.actor,
      details: check.ok ? { day, ledger: after.engine, global: after.global } : { day, scope: check.scope, detail: check.detail },
    });
    const base = { key: request.key, engine: request.engine, amount: request.amount, day };
    return check.ok ? { ...base, ok: true as const } : { ...base, ok: false as const, scope: check.scope, reason: check.reason, detail: check.detail };
  });
  await auditReserveDecision(db, decision, request.actor);
  return decision;
}

export class ReservationNotFoundError extends Error {
  override name = 'ReservationNotFound';
}
export class ReservationStateError extends Error {
  override name = 'ReservationStateError';
}

export interface SettleOutcome {
  key: string;
  status: 'settled';
  amount: number;
  realizedLoss: number;
}

/** Seed 000's settle_result: releases the open-risk reserve and books the realized loss, once. */
export async function settleResult(db: Kysely<Database>, request: { key: string; realizedLoss: number; actor: string }): Promise<SettleOutcome> {
  return db.transaction().execute(async (trx) => {
    // The reservation first, then its ledgers: reserve never waits on a reservation row, so no cycle.
    const row = await trx.selectFrom('risk_reservation').selectAll().where('idempotency_key', '=', request.key).forUpdate().executeTakeFirst();
    if (!row) throw new ReservationNotFoundError(`no reservation with key ${request.key}`);
    if (row.status === 'settled') return { key: row.idempotency_key, status: 'settled', amount: row.amount, realizedLoss: row.realized_loss ?? 0 };
    if (row.status !== 'reserved') throw new ReservationStateError(`reservation ${request.key} is ${row.status}; only a reserved one can settle`);
    await lockLedgers(trx, row.engine, row.day);
    await adjustLedgers(trx, row.engine, row.day, { openRisk: -row.amount, loss: request.realizedLoss });
    await trx
      .updateTable('risk_reservation')
      .set({ status: 'settled', realized_loss: request.realizedLoss, updated_at: sql`now()` })
      .where('idempotency_key', '=', request.key)
      .execute();
    await recordRiskEvent(trx, {
      engine: row.engine,
      kind: 'SETTLE',
      ok: true,
      reason: null,
      amount: row.amount,
      key: request.key,
      actor: request.actor,
      details: { day: row.day, realizedLoss: request.realizedLoss },
    });
    return { key: row.idempotency_key, status: 'settled', amount: row.amount, realizedLoss: request.realizedLoss };
  });
}

/**
 * Compensation: gives back exposure, open risk and the action count of a
 * reservation whose action never ran. Idempotent; a no-op for anything not reserved.
 */
export async function releaseReservation(
  db: Kysely<Database>,
  request: { key: string; actor: string; reason: string },
): Promise<{ key: string; released: boolean; status: ReservationStatus | 'missing' }> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('risk_reservation').selectAll().where('idempotency_key', '=', request.key).forUpdate().executeTakeFirst();
    if (!row) return { key: request.key, released: false, status: 'missing' as const };
    if (row.status !== 'reserved') return { key: request.key, released: row.status === 'released', status: row.status };
    await lockLedgers(trx, row.engine, row.day);
    await adjustLedgers(trx, row.engine, row.day, { exposure: -row.amount, openRisk: -row.amount, actions: -1 });
    await trx.updateTable('risk_reservation').set({ status: 'released', updated_at: sql`now()` }).where('idempotency_key', '=', request.key).execute();
    await recordRiskEvent(trx, {
      engine: row.engine,
      kind: 'RELEASE',
      ok: true,
      reason: request.reason,
      amount: row.amount,
      key: request.key,
      actor: request.actor,
      details: { day: row.day },
    });
    return { key: request.key, released: true, status: 'released' as const };
  });
}

export async function listRiskPolicies(db: Kysely<Database>): Promise<RiskPolicy[]> {
  const rows = await db.selectFrom('risk_policy').selectAll().orderBy(sql`engine = ${GLOBAL_ENGINE}`, 'desc').orderBy('engine').execute();
  return rows.map(toPolicy);
}

export async function upsertRiskPolicy(db: Kysely<Database>, policy: RiskPolicy, actor: string): Promise<RiskPolicy> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('risk_policy').selectAll().where('engine', '=', policy.engine).forUpdate().executeTakeFirst();
    const values = {
      max_daily_loss: policy.maxDailyLoss,
      max_daily_exposure: policy.maxDailyExposure,
      max_open_risk: policy.maxOpenRisk,
      max_actions_per_day: policy.maxActionsPerDay,
      enabled: policy.enabled,
      updated_by: actor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('risk_policy')
      .values({ engine: policy.engine, ...values })
      .onConflict((oc) => oc.column('engine').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: 'risk.policy_set',
      subject: `engine:${policy.engine}`,
      details: { before: before ? toPolicy(before) : null, after: policy },
    });
    return policy;
  });
}

export interface LedgerReport {
  day: string;
  engines: ({ engine: string } & LedgerDay)[];
  denials: { engine: string; reason: string; count: number }[];
}

/** The Monday question "what denied?": the day's ledger and denials by reason. */
export async function ledgerReport(db: Kysely<Database>, day: string): Promise<LedgerReport> {
  const rows = await db.selectFrom('risk_ledger_day').selectAll().where('day', '=', day).orderBy('engine').execute();
  const denials = await db
    .selectFrom('risk_reservation')
    .select(['engine', 'denial_reason', db.fn.countAll<string>().as('count')])
    .where('day', '=', day)
    .where('status', '=', 'denied')
    .groupBy(['engine', 'denial_reason'])
    .orderBy('engine')
    .execute();
  return {
    day,
    engines: rows.map((r) => ({ engine: r.engine, exposureUsed: r.exposure_used, openRiskReserved: r.open_risk_reserved, realizedLoss: r.realized_loss, actions: r.actions })),
    denials: denials.map((d) => ({ engine: d.engine, reason: d.denial_reason ?? 'unknown', count: Number(d.count) })),
  };
}
