import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // One row per change request (workflow `policy-change-<id>`): what it changes (each change with the
  // state it was read against and the state it asks for), who asked, what approvals it needs and has,
  // and where it stands. The workflow writes it; H5's control plane reads it to check a loosening
  // signal's authority, so `status` and `applied_at` are set in the same transaction as the change.
  await db.schema
    .createTable('change_request')
    .addColumn('id', 'text', (c) => c.primaryKey())
    /** The workflow run that opened it: that run's retried open finds its row, any other run is refused. */
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requester_roles', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('changes', 'jsonb', (c) => c.notNull())
    .addColumn('required', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('approvals', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'approved', 'applied', 'rejected', 'expired', 'cancelled', 'stale')`),
    )
    /** Why it ended as it did (a rejection's reason, what was stale), or null. */
    .addColumn('detail', 'text')
    /** Bumped by every edit: an approval is for one revision of the changes. */
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('apply_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('decided_at', 'timestamptz')
    .addColumn('decided_by', 'text')
    .addColumn('applied_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('change_request_status_created')
    .on('change_request')
    .columns(['status', 'created_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('change_request').execute();
}
