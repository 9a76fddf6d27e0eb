import type { Kysely } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // A key may be created inactive: its secret is shown to the requester at once, and it authenticates only
  // once the change request named here (which may grant roles above its creator's) is approved and applied.
  // Keys from before were active from their creation.
  await db.schema
    .alterTable('api_key')
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('pending_change_request', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_key').dropColumn('pending_change_request').dropColumn('active').execute();
}
