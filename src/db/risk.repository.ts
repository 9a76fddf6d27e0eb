import { type Kysely, type Selectable, sql } from 'kysely';
import type { LedgerSnapshot, ReserveDecision } from '../domain/risk/reservations';
import { GLOBAL_ENGINE, type LedgerDay, type RiskPolicy } from '../domain/risk/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database, RiskPolicyTable, RiskReservationTable } from './database';
import { type WriteContext, type Db, inTransaction } from './transaction';

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

/**
 * Locks the day's ledger rows, GLOBAL first (one lock order everywhere, so no
 * deadlocks), and reads both policies with them. A day's rows are created on
 * its first reserve.
 */
export async function lockLedgers(trx: Db, engine: string, day: string): Promise<LedgerSnapshot> {
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
            .exists(
              eb
                .selectFrom('engine_restriction as r')
                .select('r.id')
                .whereRef('r.engine', '=', 'l.engine')
                .where('r.kind', '=', 'pause')
                .where('r.cleared_at', 'is', null),
            )
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
    return {
      exposureUsed: r.exposure_used,
      openRiskReserved: r.open_risk_reserved,
      realizedLoss: r.realized_loss,
      actions: r.actions,
    };
  };
  const policy = (name: string): RiskPolicy | undefined => {
    const r = row(name);
    return r.policy_engine === null || r.enabled === null
      ? undefined
      : {
          ...toPolicy({
            engine: r.policy_engine,
            max_daily_loss: r.max_daily_loss,
            max_daily_exposure: r.max_daily_exposure,
            max_open_risk: r.max_open_risk,
            max_actions_per_day: r.max_actions_per_day,
            enabled: r.enabled,
          }),
          paused: Boolean(r.paused),
        };
  };
  return {
    global: ledger(GLOBAL_ENGINE),
    engine: ledger(engine),
    policies: { global: policy(GLOBAL_ENGINE), engine: policy(engine) },
  };
}

export async function adjustLedgers(
  trx: Db,
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
export async function insertRiskEvent(
  trx: Db,
  event: {
    engine: string;
    kind: 'RESERVE' | 'SETTLE' | 'RELEASE';
    ok: boolean;
    reason: string | null;
    amount: number;
    key: string;
    actor: string;
    details: Record<string, unknown>;
  },
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

export async function findReservation(
  db: Db,
  key: string,
  { forUpdate = false } = {},
): Promise<Selectable<RiskReservationTable> | undefined> {
  const query = db.selectFrom('risk_reservation').selectAll().where('idempotency_key', '=', key);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function insertReservation(trx: Db, decision: ReserveDecision, actor: string): Promise<void> {
  await trx
    .insertInto('risk_reservation')
    .values({
      idempotency_key: decision.key,
      engine: decision.engine,
      day: decision.day,
      amount: decision.amount,
      status: decision.ok ? 'reserved' : 'denied',
      denial_scope: decision.ok ? null : decision.scope,
      denial_reason: decision.ok ? null : decision.reason,
      actor,
    })
    .execute();
}

export async function setReservationStatus(
  trx: Db,
  key: string,
  change: { status: 'settled'; realizedLoss: number } | { status: 'released' },
): Promise<void> {
  await trx
    .updateTable('risk_reservation')
    .set({
      status: change.status,
      ...(change.status === 'settled' ? { realized_loss: change.realizedLoss } : {}),
      updated_at: sql`now()`,
    })
    .where('idempotency_key', '=', key)
    .execute();
}

export async function listRiskPolicies(db: Db): Promise<RiskPolicy[]> {
  const rows = await db
    .selectFrom('risk_policy')
    .selectAll()
    .orderBy(sql`engine = ${GLOBAL_ENGINE}`, 'desc')
    .orderBy('engine')
    .execute();
  return rows.map(toPolicy);
}

export async function upsertRiskPolicy(
  db: Db,
  policy: RiskPolicy,
  actor: string,
  context: WriteContext = {},
): Promise<RiskPolicy> {
  return inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom('risk_policy')
      .selectAll()
      .where('engine', '=', policy.engine)
      .forUpdate()
      .executeTakeFirst();
    // A throttle is lifted only through the control plane: while one is active the engine stays disabled,
    // and the edit's enabled flag becomes what clearing the last throttle restores.
    const throttled = await trx
      .selectFrom('engine_restriction')
      .select('id')
      .where('engine', '=', policy.engine)
      .where('kind', '=', 'throttle')
      .where('cleared_at', 'is', null)
      .orderBy('id')
      .executeTakeFirst();
    if (throttled) {
      const wish = { policy_existed: true, policy_enabled: policy.enabled };
      await trx
        .insertInto('engine_restriction_prior_state')
        .values({ engine: policy.engine, ...wish, restriction_id: throttled.id })
        .onConflict((oc) => oc.column('engine').doUpdateSet(wish))
        .execute();
    }
    const values = {
      max_daily_loss: policy.maxDailyLoss,
      max_daily_exposure: policy.maxDailyExposure,
      max_open_risk: policy.maxOpenRisk,
      max_actions_per_day: policy.maxActionsPerDay,
      enabled: throttled ? false : policy.enabled,
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
      kind: AuditKind.risk.policySet,
      subject: `engine:${policy.engine}`,
      details: {
        before: before ? toPolicy(before) : null,
        after: { ...policy, enabled: values.enabled },
        ...(throttled ? { heldByThrottle: true, enabledAfterThrottle: policy.enabled } : {}),
        ...context,
      },
    });
    return { ...policy, enabled: values.enabled };
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
    engines: rows.map((r) => ({
      engine: r.engine,
      exposureUsed: r.exposure_used,
      openRiskReserved: r.open_risk_reserved,
      realizedLoss: r.realized_loss,
      actions: r.actions,
    })),
    denials: denials.map((d) => ({ engine: d.engine, reason: d.denial_reason ?? 'unknown', count: Number(d.count) })),
  };
}
