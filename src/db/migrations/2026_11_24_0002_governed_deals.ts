import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

const money = 'numeric(18, 2)';

async function appendOnly(db: Kysely<any>, table: string): Promise<void> {
  await sql`
    create trigger ${sql.raw(`${table}_no_update_delete`)} before update or delete on ${sql.table(table)}
    for each row execute function audit_event_append_only()`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 000, Lever 2: risk guard.
  await db.schema
    .createTable('risk_policy')
    .addColumn('engine', 'text', (c) => c.primaryKey().check(sql`engine ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('max_daily_loss', money, (c) => c.check(sql`max_daily_loss >= 0`))
    .addColumn('max_daily_exposure', money, (c) => c.check(sql`max_daily_exposure >= 0`))
    .addColumn('max_open_risk', money, (c) => c.check(sql`max_open_risk >= 0`))
    .addColumn('max_actions_per_day', 'integer', (c) => c.check(sql`max_actions_per_day >= 0`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('seed'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Exactly as seed 000 lists them; a null cap means the seed sets none.
  await db
    .insertInto('risk_policy')
    .values([
      {
        engine: 'GLOBAL',
        max_daily_loss: 250,
        max_daily_exposure: 1500,
        max_open_risk: null,
        max_actions_per_day: null,
        enabled: true,
      },
      {
        engine: 'WHOLESALE',
        max_daily_loss: 200,
        max_daily_exposure: 1000,
        max_open_risk: 500,
        max_actions_per_day: null,
        enabled: true,
      },
      {
        engine: 'CAPITAL',
        max_daily_loss: 150,
        max_daily_exposure: 750,
        max_open_risk: 300,
        max_actions_per_day: null,
        enabled: true,
      },
      {
        engine: 'NOTIFY',
        max_daily_loss: null,
        max_daily_exposure: null,
        max_open_risk: null,
        max_actions_per_day: null,
        enabled: false,
      },
    ])
    .execute();

  await db.schema
    .createTable('risk_ledger_day')
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('exposure_used', money, (c) => c.notNull().defaultTo(0))
    .addColumn('open_risk_reserved', money, (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`open_risk_reserved >= 0`),
    )
    .addColumn('realized_loss', money, (c) => c.notNull().defaultTo(0))
    .addColumn('actions', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('risk_ledger_day_pk', ['engine', 'day'])
    .execute();

  await db.schema
    .createTable('risk_reservation')
    .addColumn('idempotency_key', 'text', (c) => c.primaryKey())
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('amount', money, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('reserved', 'denied', 'settled', 'released')`))
    .addColumn('denial_scope', 'text')
    .addColumn('denial_reason', 'text')
    .addColumn('realized_loss', money)
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('risk_reservation_open')
    .on('risk_reservation')
    .columns(['engine', 'day'])
    .where(sql.ref('status'), '=', 'reserved')
    .execute();

  await db.schema
    .createTable('risk_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('RESERVE', 'SETTLE', 'RELEASE')`))
    .addColumn('ok', 'boolean', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('amount', money, (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('risk_event_engine_at').on('risk_event').columns(['engine', 'at']).execute();
  await appendOnly(db, 'risk_event');

  // Seed 000, Lever 3: Heimdall prod-eligibility gate.
  await db.schema
    .createTable('heimdall_policy')
    .addColumn('domain', 'text', (c) => c.primaryKey().check(sql`domain ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('min_confidence_prod', 'double precision', (c) =>
      c.notNull().check(sql`min_confidence_prod between 0 and 1`),
    )
    .addColumn('min_sandbox_trials', 'integer', (c) => c.notNull().check(sql`min_sandbox_trials >= 0`))
    .addColumn('min_sandbox_success_rate', 'double precision', (c) =>
      c.notNull().check(sql`min_sandbox_success_rate between 0 and 1`),
    )
    .addColumn('prod_use_enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('seed'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db
    .insertInto('heimdall_policy')
    .values([
      { domain: 'WHOLESALE_OFFER', min_confidence_prod: 0.92, min_sandbox_trials: 75, min_sandbox_success_rate: 0.82 },
      { domain: 'BUYER_MATCH', min_confidence_prod: 0.9, min_sandbox_trials: 50, min_sandbox_success_rate: 0.8 },
      { domain: 'CAPITAL_ROUTE', min_confidence_prod: 0.95, min_sandbox_trials: 100, min_sandbox_success_rate: 0.85 },
      {
        domain: 'FOLLOWUP_NEXT_ACTION',
        min_confidence_prod: 0.9,
        min_sandbox_trials: 60,
        min_sandbox_success_rate: 0.8,
      },
    ])
    .execute();

  await db.schema
    .createTable('heimdall_sandbox_trial')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('success', 'boolean', (c) => c.notNull())
    .addColumn('confidence', 'double precision', (c) => c.notNull().check(sql`confidence between 0 and 1`))
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('heimdall_scorecard_day')
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('trials', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('successes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('confidence_sum', 'double precision', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('heimdall_scorecard_day_pk', ['domain', 'day'])
    .execute();

  await db.schema
    .createTable('heimdall_recommendation')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('confidence', 'double precision', (c) => c.notNull().check(sql`confidence between 0 and 1`))
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('prod_eligible', 'boolean', (c) => c.notNull())
    .addColumn('gate_reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Seed 003: execution permits, block records, disarms.
  await db.schema
    .createTable('execution_permit')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('deal_id', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('issued', 'consumed', 'revoked')`))
    .addColumn('consumed_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('execution_permit_symbol_issued')
    .on('execution_permit')
    .columns(['symbol', 'issued_at'])
    .execute();

  await db.schema
    .createTable('permit_block')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('deal_id', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('permit_block_symbol_at').on('permit_block').columns(['symbol', 'at']).execute();

  await db.schema
    .createTable('disarm_record')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('context', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();

  // KPI events from deal outcomes and producers (seed 000 Lever 4 reads them).
  await db.schema
    .createTable('kpi_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('success', 'boolean')
    .addColumn('value', 'double precision')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('source', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('kpi_event_domain_metric_at')
    .on('kpi_event')
    .columns(['domain', 'metric', 'at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'kpi_event',
    'disarm_record',
    'permit_block',
    'execution_permit',
    'heimdall_recommendation',
    'heimdall_scorecard_day',
    'heimdall_sandbox_trial',
    'heimdall_policy',
    'risk_event',
    'risk_reservation',
    'risk_ledger_day',
    'risk_policy',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
