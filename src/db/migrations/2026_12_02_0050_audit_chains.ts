import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 16: the audit log is K hash chains, not one, so appends in concurrent transactions do not
  // queue on one lock. Every event written before this is chain 0, the chain they already form.
  await db.schema
    .alterTable('audit_event')
    .addColumn('chain', 'smallint', (c) => c.notNull().defaultTo(0))
    .execute();
  // An append reads the head of its chain.
  await sql`create index audit_event_chain_id on audit_event (chain, id desc)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_event_chain_id').execute();
  await db.schema.alterTable('audit_event').dropColumn('chain').execute();
}
