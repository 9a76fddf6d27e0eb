import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 004 PACK H: the guided go-live playbook, one row per playbook
  // workflow. The control plane accepts go-live only once a row is completed.
  await db.schema
    .createTable('go_live_playbook')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('in_progress', 'completed', 'abandoned')`))
    .addColumn('steps', 'jsonb', (c) => c.notNull())
    .addColumn('started_by', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addColumn('environment', 'text', (c) => c.notNull())
    .execute();
  await sql`create index go_live_playbook_completed on go_live_playbook (status) where status = 'completed'`.execute(
    db,
  );

  // Seed 004 PACK I: operator sessions with a snapshot of the system at start and end.
  await db.schema
    .createTable('operator_session')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('operator', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'ended')`))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz')
    .addColumn('start_notes', 'text')
    .addColumn('end_notes', 'text')
    .addColumn('start_snapshot', 'jsonb', (c) => c.notNull())
    .addColumn('end_snapshot', 'jsonb')
    .execute();
  await db.schema
    .createIndex('operator_session_status_started')
    .on('operator_session')
    .columns(['status', 'started_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['operator_session', 'go_live_playbook']) await db.schema.dropTable(table).execute();
}
