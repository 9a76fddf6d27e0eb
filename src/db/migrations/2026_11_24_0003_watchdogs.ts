import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 000 Lever 4: regression tripwire.
  await db.schema
    .createTable('regression_policy')
    .addColumn('domain', 'text', (c) => c.notNull().check(sql`domain ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('metric', 'text', (c) => c.notNull().check(sql`metric ~ '^[a-z][a-z0-9_]{0,63}$'`))
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('window_events', 'integer', (c) => c.notNull().check(sql`window_events > 0`))
    .addColumn('baseline_events', 'integer', (c) => c.notNull().check(sql`baseline_events > 0`))
    .addColumn('max_drop_fraction', 'double precision', (c) =>
      c.notNull().check(sql`max_drop_fraction > 0 and max_drop_fraction <= 1`),
    )
    .addColumn('action', 'text', (c) => c.notNull().check(sql`action in ('THROTTLE', 'PAUSE', 'KILL_SWITCH')`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('seed'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('regression_policy_pk', ['domain', 'metric'])
    .execute();
  // Exactly seed 000's four policies, all disabled (the safest default).
  await db
    .insertInto('regression_policy')
    .values([
      {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        window_events: 50,
        baseline_events: 200,
        max_drop_fraction: 0.2,
        action: 'THROTTLE',
      },
      {
        domain: 'WHOLESALE',
        metric: 'offer_accept_rate',
        engine: 'WHOLESALE',
        window_events: 50,
        baseline_events: 200,
        max_drop_fraction: 0.15,
        action: 'THROTTLE',
      },
      {
        domain: 'BUYER_MATCH',
        metric: 'match_success',
        engine: 'BUYER_MATCH',
        window_events: 50,
        baseline_events: 200,
        max_drop_fraction: 0.25,
        action: 'THROTTLE',
      },
      {
        domain: 'CAPITAL',
        metric: 'roi_event',
        engine: 'CAPITAL',
        window_events: 50,
        baseline_events: 200,
        max_drop_fraction: 0.3,
        action: 'KILL_SWITCH',
      },
    ])
    .execute();

  await db.schema
    .createTable('regression_state')
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('triggered', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('last_decision', 'text', (c) => c.notNull())
    .addColumn('baseline', 'double precision')
    .addColumn('current', 'double precision')
    .addColumn('drop_fraction', 'double precision')
    .addColumn('window_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('baseline_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_checked_at', 'timestamptz', (c) => c.notNull())
    .addColumn('triggered_at', 'timestamptz')
    .addPrimaryKeyConstraint('regression_state_pk', ['domain', 'metric'])
    .execute();

  // Throttles and pauses, from a tripwire or an operator; cleared, never deleted.
  await db.schema
    .createTable('engine_restriction')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('throttle', 'pause')`))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('cleared_at', 'timestamptz')
    .addColumn('cleared_by', 'text')
    .addColumn('clear_reason', 'text')
    .execute();
  await sql`create unique index engine_restriction_active on engine_restriction (engine, kind, source) where cleared_at is null`.execute(
    db,
  );

  // Seed 001 infrastructure canary.
  await db.schema
    .createTable('canary_check_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_ok', 'boolean', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('last_checked_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_failure_at', 'timestamptz')
    .addColumn('last_recovered_at', 'timestamptz')
    .execute();

  // Seed 001 drift detector.
  await db.schema
    .createTable('drift_baseline')
    .addColumn('strategy_id', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('baseline_value', 'double precision', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('drift_baseline_pk', ['strategy_id', 'metric'])
    .execute();
  await db.schema
    .createTable('drift_evaluation')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('strategy_id', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('baseline_value', 'double precision', (c) => c.notNull())
    .addColumn('live_value', 'double precision', (c) => c.notNull())
    .addColumn('deviation', 'double precision', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull().check(sql`action in ('OK', 'REDUCE_SIZE', 'PAUSE')`))
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('drift_evaluation_strategy_at')
    .on('drift_evaluation')
    .columns(['strategy_id', 'at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'drift_evaluation',
    'drift_baseline',
    'canary_check_state',
    'engine_restriction',
    'regression_state',
    'regression_policy',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
