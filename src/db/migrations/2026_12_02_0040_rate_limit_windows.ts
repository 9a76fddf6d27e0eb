import type { Kysely } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 15: the API's rate-limit windows, shared by every API process on the database, so a
  // deployment with two of them allows the per-minute limit once, not once per process.
  await db.schema
    .createTable('rate_limit_window')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_window_pkey', ['key', 'window_start'])
    .execute();
  // The sweep deletes windows by age.
  await db.schema.createIndex('rate_limit_window_start').on('rate_limit_window').column('window_start').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limit_window').execute();
}
