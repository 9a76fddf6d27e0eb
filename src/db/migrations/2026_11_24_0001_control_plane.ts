import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('control_plane_state')
    .addColumn('id', 'integer', (c) =>
      c
        .primaryKey()
        .defaultTo(1)
        .check(sql`id = 1`),
    )
    .addColumn('go_live_enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('kill_switch_engaged', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('kill_switch_source', 'text')
    .addColumn('apply_mode', 'text', (c) =>
      c
        .notNull()
        .defaultTo('dry_run')
        .check(sql`apply_mode in ('dry_run', 'testnet', 'live')`),
    )
    .addColumn('reason', 'text')
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('system'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_change_id', 'text')
    .execute();
  // The safe default: go-live off, kill switch released, dry_run.
  await db.insertInto('control_plane_state').values({ id: 1 }).execute();

  await db.schema
    .createTable('audit_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .execute();
  await db.schema.createIndex('audit_event_kind_at').on('audit_event').columns(['kind', 'at']).execute();

  await sql`
    create function audit_event_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_event is append-only: % refused', tg_op;
    end $$`.execute(db);
  await sql`
    create trigger audit_event_no_update_delete before update or delete on audit_event
    for each row execute function audit_event_append_only()`.execute(db);
  await sql`
    create trigger audit_event_no_truncate before truncate on audit_event
    for each statement execute function audit_event_append_only()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_event').execute();
  await sql`drop function audit_event_append_only()`.execute(db);
  await db.schema.dropTable('control_plane_state').execute();
}
