import { type Kysely, type Selectable, sql } from 'kysely';
import type { ReserveDecision } from '../domain/risk/reservations';
import { LEDGER_STRIPES, type LedgerStripe } from '../domain/risk/stripes';
import { GLOBAL_ENGINE, type LedgerDay, type RiskPolicy } from '../domain/risk/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database, RiskPolicyTable, RiskReservationTable } from './database';
import { type WriteContext, type Db, inTransaction } from './transaction';

function toPolicy(
  row: Omit<Selectable<RiskPolicyTable>, 'updated_at' | 'updated_by' | 'exits_ignore_loss_cap'> & {
    exits_ignore_loss_cap?: boolean;
  },
): RiskPolicy {
  return {
    engine: row.engine,
    maxDailyLoss: row.max_daily_loss,
    maxDailyExposure: row.max_daily_exposure,
    maxOpenRisk: row.max_open_risk,
    maxActionsPerDay: row.max_actions_per_day,
    enabled: row.enabled,
    // Shown only where it is on: policies read as they always did.
    ...(row.exits_ignore_loss_cap ? { exitsIgnoreLossCap: true } : {}),
  };
}

/** What a reserve reads before it locks anything: the engine's policy (paused or not) and the day's totals. */
export interface ReserveInputs {
  policy: RiskPolicy | undefined;
  /** Summed over the day's stripes, as one statement read them with the policy. */
  totals: LedgerDay;
}

export async function readReserveInputs(
  trx: Db,
  engines: readonly string[],
  day: string,
): Promise<Map<string, ReserveInputs>> {
  const rows = await sql<{
    engine: string;
    policy_engine: string | null;
    max_daily_loss: number | null;
    max_daily_exposure: number | null;
    max_open_risk: number | null;
    max_actions_per_day: number | null;
    enabled: boolean | null;
    exits_ignore_loss_cap: boolean | null;
    paused: boolean;
    exposure_used: number;
    open_risk_reserved: number;
    realized_loss: number;
    actions: number;
  }>`
    select e.engine, p.engine as policy_engine, p.max_daily_loss, p.max_daily_exposure, p.max_open_risk,
           p.max_actions_per_day, p.enabled, p.exits_ignore_loss_cap,
           exists (select 1 from engine_restriction r
                   where r.engine = e.engine and r.kind = 'pause' and r.cleared_at is null) as paused,
           t.exposure_used, t.open_risk_reserved, t.realized_loss, t.actions
    from (values ${sql.join(engines.map((e) => sql`(${e}::text)`))}) as e(engine)
    left join risk_policy p on p.engine = e.engine
    -- Summed here, by the stripes' key: joined, the risk_ledger_day view is planned as a scan of the day.
    cross join lateral (
      select coalesce(sum(s.exposure_used), 0)::numeric(18, 2) as exposure_used,
             coalesce(sum(s.open_risk_reserved), 0)::numeric(18, 2) as open_risk_reserved,
             coalesce(sum(s.realized_loss), 0)::numeric(18, 2) as realized_loss,
             coalesce(sum(s.actions), 0)::int as actions
      from risk_ledger_stripe s where s.engine = e.engine and s.day = ${day}) t`.execute(trx);
  return new Map(
    rows.rows.map((r) => [
      r.engine,
      {
        totals: {
          exposureUsed: r.exposure_used,
          openRiskReserved: r.open_risk_reserved,
          realizedLoss: r.realized_loss,
          actions: r.actions,
        },
        policy:
          r.policy_engine === null || r.enabled === null
            ? undefined
            : {
                ...toPolicy({
                  engine: r.policy_engine,
                  max_daily_loss: r.max_daily_loss,
                  max_daily_exposure: r.max_daily_exposure,
                  max_open_risk: r.max_open_risk,
                  max_actions_per_day: r.max_actions_per_day,
                  enabled: r.enabled,
                  exits_ignore_loss_cap: r.exits_ignore_loss_cap === true,
                }),
                paused: r.paused,
              },
      },
    ]),
  );
}

/**
 * The reserve on its home stripe alone, if it fits the stripe's shares: one row updated (and locked),
 * or none and nothing locked (the row missing, or its shares too small).
 *
 * Nothing locked matters: an update that waited for the row and then found it full keeps the row
 * locked, and a reserve holding one stripe out of turn while it locks every stripe in order deadlocks
 * with another doing the same. Rolling back to the savepoint lets the row go.
 */
export async function reserveOnStripe(
  trx: Db,
  at: { engine: string; day: string; stripe: number },
  amount: number,
): Promise<boolean> {
  await sql`savepoint home_stripe`.execute(trx);
  const result = await trx
    .updateTable('risk_ledger_stripe')
    .set((eb) => ({
      exposure_used: eb('exposure_used', '+', amount),
      open_risk_reserved: eb('open_risk_reserved', '+', amount),
      actions: eb('actions', '+', 1),
    }))
    .where('engine', '=', at.engine)
    .where('day', '=', at.day)
    .where('stripe', '=', at.stripe)
    .where((eb) =>
      eb.and([
        eb.or([eb('exposure_share', 'is', null), eb(eb('exposure_used', '+', amount), '<=', eb.ref('exposure_share'))]),
        eb.or([
          eb('open_risk_share', 'is', null),
          eb(eb('open_risk_reserved', '+', amount), '<=', eb.ref('open_risk_share')),
        ]),
        eb.or([eb('actions_share', 'is', null), eb(eb('actions', '+', 1), '<=', eb.ref('actions_share'))]),
      ]),
    )
    .executeTakeFirst();
  if (result.numUpdatedRows === 1n) return true;
  await sql`rollback to savepoint home_stripe`.execute(trx);
  return false;
}

/**
 * The reserve on one stripe of every engine at once, the same stripe for all (the reservation records one),
 * the first from `home` on whose rows the shares fit and that no other transaction holds: SKIP LOCKED, so
 * it never waits, and so takes no lock out of order. The stripe taken, or undefined with nothing changed
 * (every fitting stripe busy, none fitting, or the day's stripes not there yet): the caller then decides
 * stripe by stripe, waiting. Under its own savepoint: a row locked in passing is let go with it.
 */
export async function reserveOnFreeStripe(
  trx: Db,
  at: { engines: readonly string[]; day: string; home: number },
  amount: number,
): Promise<number | undefined> {
  const fits = (t: string) => sql`
    (${sql.ref(`${t}.exposure_share`)} is null or ${sql.ref(`${t}.exposure_used`)} + ${amount} <= ${sql.ref(`${t}.exposure_share`)})
    and (${sql.ref(`${t}.open_risk_share`)} is null or ${sql.ref(`${t}.open_risk_reserved`)} + ${amount} <= ${sql.ref(`${t}.open_risk_share`)})
    and (${sql.ref(`${t}.actions_share`)} is null or ${sql.ref(`${t}.actions`)} + 1 <= ${sql.ref(`${t}.actions_share`)})`;
  const [first, second] = at.engines;
  const pick =
    second === undefined
      ? sql`select a.stripe from risk_ledger_stripe a
            where a.engine = ${first} and a.day = ${at.day} and ${fits('a')}
            order by (a.stripe - ${at.home} + ${LEDGER_STRIPES}) % ${LEDGER_STRIPES}
            for update of a skip locked limit 1`
      : sql`select a.stripe from risk_ledger_stripe a
            join risk_ledger_stripe b on b.engine = ${second} and b.day = a.day and b.stripe = a.stripe
            where a.engine = ${first} and a.day = ${at.day} and ${fits('a')} and ${fits('b')}
            order by (a.stripe - ${at.home} + ${LEDGER_STRIPES}) % ${LEDGER_STRIPES}
            for update of a, b skip locked limit 1`;
  await sql`savepoint free_stripe`.execute(trx);
  const updated = await sql<{ stripe: number }>`
    with pick as (${pick})
    update risk_ledger_stripe l
    set exposure_used = l.exposure_used + ${amount}, open_risk_reserved = l.open_risk_reserved + ${amount},
        actions = l.actions + 1
    from pick
    where l.engine in (${sql.join([...at.engines])}) and l.day = ${at.day} and l.stripe = pick.stripe
    returning l.stripe`.execute(trx);
  if (updated.rows.length === at.engines.length) return updated.rows[0]!.stripe;
  await sql`rollback to savepoint free_stripe`.execute(trx);
  return undefined;
}

/** The advisory lock class of a day's loss gate ("LOSS"); the day is its key. */
const LOSS_GATE_LOCK = 0x4c4f_5353;

/**
 * Seed 000's loss limit across stripes: a reserve reads the day's realized loss under the day's loss
 * gate, shared (reserves never wait on each other), and a settle that books a loss takes it alone first.
 * Without it a loss booked on one stripe while a reserve took another was a write skew: the reserve was
 * admitted after the loss that reached the cap had committed (the reliability harness's load, issue 15).
 */
export async function shareLossGate(trx: Db, day: string): Promise<void> {
  await sql`select pg_advisory_xact_lock_shared(${LOSS_GATE_LOCK}::int, hashtext(${day}))`.execute(trx);
}

/** A settle's side of the loss gate: after the position (an exit takes its position first), before any stripe. */
export async function takeLossGate(trx: Db, day: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${LOSS_GATE_LOCK}::int, hashtext(${day}))`.execute(trx);
}

/** An engine's day with its stripes locked, and the policy its shares come from. */
export interface LockedDay {
  policy: RiskPolicy | undefined;
  stripes: LedgerStripe[];
}

/**
 * Every stripe of an engine's day, locked in stripe order (the one order everywhere, after any GLOBAL
 * stripe, so no deadlocks), with the engine's policy read under a share lock first: a cap changed at
 * the same moment waits for this sharing out, or this waits for it and shares out the new caps, so no
 * stripe ever keeps a share of a cap that is gone. A day's stripes are created together, with no share.
 */
export async function lockStripes(trx: Db, engine: string, day: string): Promise<LockedDay> {
  const policyRow = await trx
    .selectFrom('risk_policy')
    .select([
      'engine',
      'max_daily_loss',
      'max_daily_exposure',
      'max_open_risk',
      'max_actions_per_day',
      'enabled',
      'exits_ignore_loss_cap',
    ])
    .where('engine', '=', engine)
    .forShare()
    .executeTakeFirst();
  const policy = policyRow && toPolicy(policyRow);
  const select = () =>
    trx
      .selectFrom('risk_ledger_stripe')
      .selectAll()
      .where('engine', '=', engine)
      .where('day', '=', day)
      .orderBy('stripe')
      .forUpdate()
      .execute();
  let rows = await select();
  if (policy && rows.length < LEDGER_STRIPES) {
    const have = new Set(rows.map((r) => r.stripe));
    const missing = Array.from({ length: LEDGER_STRIPES }, (_, stripe) => stripe).filter((s) => !have.has(s));
    // A new stripe has no share until the next sharing out: it can only ever be given room, never take it.
    await trx
      .insertInto('risk_ledger_stripe')
      .values(
        missing.map((stripe) => ({
          engine,
          day,
          stripe,
          exposure_share: policy.maxDailyExposure === null ? null : 0,
          open_risk_share: policy.maxOpenRisk === null ? null : 0,
          actions_share: policy.maxActionsPerDay === null ? null : 0,
        })),
      )
      .onConflict((oc) => oc.columns(['engine', 'day', 'stripe']).doNothing())
      .execute();
    rows = await select();
  }
  return {
    policy,
    stripes: rows.map((r) => ({
      stripe: r.stripe,
      exposureUsed: r.exposure_used,
      openRiskReserved: r.open_risk_reserved,
      realizedLoss: r.realized_loss,
      actions: r.actions,
      exposureShare: r.exposure_share,
      openRiskShare: r.open_risk_share,
      actionsShare: r.actions_share,
    })),
  };
}

/** Writes locked stripes back (what they use and their shares), in one statement. */
export async function writeStripes(trx: Db, engine: string, day: string, stripes: LedgerStripe[]): Promise<void> {
  const values = sql.join(
    stripes.map(
      (s) =>
        sql`(${s.stripe}::smallint, ${s.exposureUsed}::numeric, ${s.openRiskReserved}::numeric, ${s.realizedLoss}::numeric, ${s.actions}::integer, ${s.exposureShare}::numeric, ${s.openRiskShare}::numeric, ${s.actionsShare}::integer)`,
    ),
  );
  await sql`
    update risk_ledger_stripe l set exposure_used = v.exposure_used, open_risk_reserved = v.open_risk_reserved,
      realized_loss = v.realized_loss, actions = v.actions, exposure_share = v.exposure_share,
      open_risk_share = v.open_risk_share, actions_share = v.actions_share
    from (values ${values}) as v(stripe, exposure_used, open_risk_reserved, realized_loss, actions,
                                 exposure_share, open_risk_share, actions_share)
    where l.engine = ${engine} and l.day = ${day} and l.stripe = v.stripe`.execute(trx);
}

/**
 * Moves one stripe of an engine's day. A reserve undone in its own transaction gives its stripe the room
 * back (`room: 'kept'`). A settle or release gives what it held back to the day, not to the stripe
 * (`room: 'to_day'`, its shares fall with it): a stripe never holds room the day's caps may no longer
 * have (after a cap was lowered under what is used); the day's next sharing out hands it out again.
 */
export async function adjustStripe(
  trx: Db,
  at: { engine: string; day: string; stripe: number },
  delta: { exposure?: number; openRisk?: number; loss?: number; actions?: number },
  room: 'kept' | 'to_day',
): Promise<void> {
  const share = (column: 'exposure_share' | 'open_risk_share' | 'actions_share', by: number | undefined) =>
    room === 'kept' || !by ? sql<number | null>`${sql.ref(column)}` : sql<number | null>`${sql.ref(column)} + ${by}`;
  await trx
    .updateTable('risk_ledger_stripe')
    .set((eb) => ({
      exposure_used: eb('exposure_used', '+', delta.exposure ?? 0),
      open_risk_reserved: eb('open_risk_reserved', '+', delta.openRisk ?? 0),
      realized_loss: eb('realized_loss', '+', delta.loss ?? 0),
      actions: eb('actions', '+', delta.actions ?? 0),
      exposure_share: share('exposure_share', delta.exposure),
      open_risk_share: share('open_risk_share', delta.openRisk),
      actions_share: share('actions_share', delta.actions),
    }))
    .where('engine', '=', at.engine)
    .where('day', '=', at.day)
    .where('stripe', '=', at.stripe)
    .execute();
}

/** Every stripe of the engine, on every day, keeps only what it uses of caps that are set (none of unset ones). */
async function withdrawShares(
  trx: Db,
  caps: Pick<RiskPolicy, 'engine' | 'maxDailyExposure' | 'maxOpenRisk' | 'maxActionsPerDay'>,
): Promise<void> {
  const exposure = caps.maxDailyExposure === null ? sql`null::numeric` : sql`exposure_used`;
  const open = caps.maxOpenRisk === null ? sql`null::numeric` : sql`open_risk_reserved`;
  const actions = caps.maxActionsPerDay === null ? sql`null::integer` : sql`actions`;
  await sql`
    update risk_ledger_stripe set exposure_share = ${exposure}, open_risk_share = ${open}, actions_share = ${actions}
    where engine = ${caps.engine}
      and (exposure_share is distinct from ${exposure} or open_risk_share is distinct from ${open}
           or actions_share is distinct from ${actions})`.execute(trx);
}

/** A ledger movement's immutable risk event (seed 000's RiskEvent). */
export interface RiskEventEntry {
  engine: string;
  kind: 'RESERVE' | 'SETTLE' | 'RELEASE';
  ok: boolean;
  reason: string | null;
  amount: number;
  key: string;
  actor: string;
  details: Record<string, unknown>;
}

const riskEventRows = (events: readonly RiskEventEntry[]) =>
  events.map((event) => ({
    engine: event.engine,
    kind: event.kind,
    ok: event.ok,
    reason: event.reason,
    amount: event.amount,
    idempotency_key: event.key,
    actor: event.actor,
    details: JSON.stringify(event.details),
  }));

/** Every ledger movement gets an immutable risk event; several in one insert, in order. */
export async function insertRiskEvents(trx: Db, events: RiskEventEntry[]): Promise<void> {
  await trx.insertInto('risk_event').values(riskEventRows(events)).execute();
}

export async function findReservation(
  db: Db,
  key: string,
  { forUpdate = false } = {},
): Promise<Selectable<RiskReservationTable> | undefined> {
  const query = db.selectFrom('risk_reservation').selectAll().where('idempotency_key', '=', key);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** The reservations of one key each (every key at most once), keyed. */
export async function findReservations(
  db: Db,
  keys: readonly string[],
): Promise<Map<string, Selectable<RiskReservationTable>>> {
  const rows = await db.selectFrom('risk_reservation').selectAll().where('idempotency_key', 'in', keys).execute();
  return new Map(rows.map((row) => [row.idempotency_key, row]));
}

/** A reservation (granted or denied) on its stripe; an exit's counts no exposure. */
export interface ReservationEntry {
  decision: ReserveDecision;
  actor: string;
  stripe: number;
  exit?: boolean;
}

/**
 * Reserves' reservations and their risk events, in one statement (the events' insert carries the
 * reservations' as a data-modifying CTE): all of them, or none when a key is already reserved.
 */
export async function insertReservations(
  trx: Db,
  reservations: readonly ReservationEntry[],
  events: readonly RiskEventEntry[],
): Promise<void> {
  await trx
    .with('reserved', (q) =>
      q.insertInto('risk_reservation').values(
        reservations.map(({ decision, actor, stripe, exit }) => ({
          idempotency_key: decision.key,
          stripe,
          engine: decision.engine,
          day: decision.day,
          amount: decision.amount,
          status: decision.ok ? 'reserved' : 'denied',
          denial_scope: decision.ok ? null : decision.scope,
          denial_reason: decision.ok ? null : decision.reason,
          actor,
          ...(exit ? { counts_exposure: false } : {}),
        })),
      ),
    )
    .insertInto('risk_event')
    .values(riskEventRows(events))
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
      exits_ignore_loss_cap: policy.exitsIgnoreLossCap ?? false,
      updated_by: actor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('risk_policy')
      .values({ engine: policy.engine, ...values })
      .onConflict((oc) => oc.column('engine').doUpdateSet(values))
      .execute();
    // No stripe of any day keeps a share of the old caps: each keeps only what it uses, and the day's
    // next reserve is decided on its totals under the new caps and shares their headroom out.
    await withdrawShares(trx, policy);
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
