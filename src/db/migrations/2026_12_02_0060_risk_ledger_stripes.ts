import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

const money = 'numeric(18, 2)';

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 16: an engine's day is held in stripes (src/domain/risk/stripes.ts), so reserves do not
  // all queue on one row. What a day used so far moves to stripe 0 with no headroom shared out:
  // the first reserve of that day is decided on the totals and shares the headroom out.
  await db.schema
    .createTable('risk_ledger_stripe')
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('stripe', 'smallint', (c) => c.notNull().check(sql`stripe >= 0`))
    .addColumn('exposure_used', money, (c) => c.notNull().defaultTo(0))
    .addColumn('open_risk_reserved', money, (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`open_risk_reserved >= 0`),
    )
    .addColumn('realized_loss', money, (c) => c.notNull().defaultTo(0))
    .addColumn('actions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('exposure_share', money)
    .addColumn('open_risk_share', money)
    .addColumn('actions_share', 'integer')
    .addPrimaryKeyConstraint('risk_ledger_stripe_pk', ['engine', 'day', 'stripe'])
    .execute();
  await sql`
    insert into risk_ledger_stripe (engine, day, stripe, exposure_used, open_risk_reserved, realized_loss, actions,
                                    exposure_share, open_risk_share, actions_share)
    select l.engine, l.day, 0, l.exposure_used, l.open_risk_reserved, l.realized_loss, l.actions,
           case when p.max_daily_exposure is null then null else l.exposure_used end,
           case when p.max_open_risk is null then null else l.open_risk_reserved end,
           case when p.max_actions_per_day is null then null else l.actions end
    from risk_ledger_day l left join risk_policy p on p.engine = l.engine`.execute(db);
  await db.schema.dropTable('risk_ledger_day').execute();
  // Readers (reports, capital bands, the harness) keep reading one row per engine and day.
  await sql`
    create view risk_ledger_day as
    select engine, day,
           sum(exposure_used)::numeric(18, 2) as exposure_used,
           sum(open_risk_reserved)::numeric(18, 2) as open_risk_reserved,
           sum(realized_loss)::numeric(18, 2) as realized_loss,
           sum(actions)::integer as actions
    from risk_ledger_stripe group by engine, day`.execute(db);
  // Settle and release go back to the stripe the reservation took.
  await db.schema
    .alterTable('risk_reservation')
    .addColumn('stripe', 'smallint', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('risk_reservation').dropColumn('stripe').execute();
  await sql`drop view risk_ledger_day`.execute(db);
  await db.schema
    .createTable('risk_ledger_day')
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('exposure_used', money, (c) => c.notNull().defaultTo(0))
    .addColumn('open_risk_reserved', money, (c) => c.notNull().defaultTo(0))
    .addColumn('realized_loss', money, (c) => c.notNull().defaultTo(0))
    .addColumn('actions', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('risk_ledger_day_pk', ['engine', 'day'])
    .execute();
  await sql`
    insert into risk_ledger_day
    select engine, day, sum(exposure_used), sum(open_risk_reserved), sum(realized_loss), sum(actions)
    from risk_ledger_stripe group by engine, day`.execute(db);
  await db.schema.dropTable('risk_ledger_stripe').execute();
}
