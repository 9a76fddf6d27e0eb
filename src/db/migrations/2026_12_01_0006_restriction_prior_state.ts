import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // What an engine's risk policy was before its first active throttle, so
  // clearing the last one restores exactly that (no policy row → none after).
  await db.schema
    .createTable('engine_restriction_prior_state')
    .addColumn('engine', 'text', (c) => c.primaryKey())
    .addColumn('policy_existed', 'boolean', (c) => c.notNull())
    .addColumn('policy_enabled', 'boolean')
    .addColumn('restriction_id', 'bigint', (c) => c.notNull().references('engine_restriction.id'))
    .addColumn('captured_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('engine_restriction_prior_state').execute();
}
