import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 001: strategies that opted in to the governance gate.
  await db.schema
    .createTable('strategy')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('level', 'text', (c) =>
      c
        .notNull()
        .defaultTo('L0')
        .check(sql`level in ('L0', 'L1', 'L2', 'L3', 'L4')`),
    )
    // Maturity evidence counts from here: a new level starts a new record.
    .addColumn('level_since', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('paused_reason', 'text')
    .addColumn('capital', 'double precision', (c) =>
      c
        .notNull()
        .defaultTo(10000)
        .check(sql`capital > 0`),
    )
    .addColumn('token_required', 'boolean', (c) => c.notNull().defaultTo(false))
    // Where the health-driven sizing multiplier bottoms out.
    .addColumn('health_floor', 'double precision', (c) =>
      c
        .notNull()
        .defaultTo(0.25)
        .check(sql`health_floor between 0 and 1`),
    )
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('strategy_outcome')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('strategy_id', 'text', (c) => c.notNull())
    .addColumn('deal_id', 'text', (c) => c.notNull().unique())
    .addColumn('pnl', 'double precision', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('strategy_outcome_strategy')
    .on('strategy_outcome')
    .columns(['strategy_id', 'id'])
    .execute();
  await db.schema
    .createTable('execution_token')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('strategy_id', 'text', (c) => c.notNull())
    .addColumn('symbols', 'jsonb', (c) => c.notNull())
    .addColumn('max_notional', 'double precision', (c) => c.notNull())
    .addColumn('actions', 'jsonb', (c) => c.notNull())
    .addColumn('trace_id', 'text', (c) => c.notNull())
    .addColumn('issued_by', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .execute();
  await db.schema
    .createTable('governance_log')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('trace_id', 'text', (c) => c.notNull())
    .addColumn('strategy_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('scores', 'jsonb', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addColumn('duration_ms', 'double precision', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('governance_log_strategy_at')
    .on('governance_log')
    .columns(['strategy_id', 'at'])
    .execute();
  await sql`create unique index governance_log_trace on governance_log (trace_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['governance_log', 'execution_token', 'strategy_outcome', 'strategy'])
    await db.schema.dropTable(table).execute();
}
