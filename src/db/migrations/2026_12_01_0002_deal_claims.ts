import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 13: a deal id is claimed once, with its terms, and the claim records how far the deal got.
  await db.schema
    .createTable('deal_claim')
    .addColumn('deal_id', 'text', (c) => c.primaryKey())
    .addColumn('terms', 'jsonb', (c) => c.notNull())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) =>
      c.notNull().check(sql`stage in ('claimed', 'executing', 'needs_reconciliation', 'done')`),
    )
    .addColumn('result', 'jsonb')
    .addColumn('permit_id', 'text')
    .addColumn('apply_mode', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('deal_claim_open')
    .on('deal_claim')
    .column('stage')
    .where(sql.ref('stage'), '!=', 'done')
    .execute();
  // The sweep looks for held reservations and unused permits; both are few, and indexed as such.
  await db.schema
    .createIndex('execution_permit_issued')
    .on('execution_permit')
    .column('deal_id')
    .where(sql.ref('status'), '=', 'issued')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('execution_permit_issued').execute();
  await db.schema.dropTable('deal_claim').execute();
}
