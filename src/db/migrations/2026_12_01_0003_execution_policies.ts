import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.
// Issue 13 items 2 and 3: what an action is comes from Warden's own records.

const money = 'numeric(18, 2)';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('execution_policy')
    .addColumn('engine', 'text', (c) => c.primaryKey().check(sql`engine ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('execution_class', 'text', (c) =>
      c.notNull().check(sql`execution_class in ('OBSERVE_ONLY', 'SANDBOX_EXEC', 'PROD_EXEC')`),
    )
    .addColumn('strategy_required', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('recommendation_required', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('seed'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('reason', 'text')
    .execute();
  // Today's engines keep today's behaviour: PROD_EXEC (go-live and the kill switch apply), no gate required.
  await db
    .insertInto('execution_policy')
    .values(
      ['GLOBAL', 'WHOLESALE', 'CAPITAL', 'NOTIFY'].map((engine) => ({
        engine,
        execution_class: 'PROD_EXEC',
        reason: 'seed: behaviour before execution policies',
      })),
    )
    .execute();

  await db.schema
    .createTable('position')
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('strategy', 'engine')`))
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('quantity', money, (c) => c.notNull().defaultTo(0))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('position_pk', ['scope', 'scope_id', 'symbol'])
    .execute();

  await db.schema
    .createTable('position_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('deal', 'reconcile')`))
    .addColumn('delta', money, (c) => c.notNull())
    .addColumn('quantity_after', money, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .execute();
  await db.schema
    .createIndex('position_event_scope')
    .on('position_event')
    .columns(['scope', 'scope_id', 'symbol', 'at'])
    .execute();
  await sql`
    create trigger position_event_no_update_delete before update or delete on position_event
    for each row execute function audit_event_append_only()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('position_event').execute();
  await db.schema.dropTable('position').execute();
  await db.schema.dropTable('execution_policy').execute();
}
