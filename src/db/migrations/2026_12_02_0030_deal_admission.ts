import type { Kysely } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 14: what a deal asked at admission (its class, strategy, recommendation, executor), so
  // `warden policy plan` can replay it through proposed policies; written by admitDeal on the claim.
  await db.schema.alterTable('deal_claim').addColumn('admission', 'jsonb').execute();
  // The replay reads a week of claims by their creation time.
  await db.schema.createIndex('deal_claim_created_at').on('deal_claim').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deal_claim_created_at').execute();
  await db.schema.alterTable('deal_claim').dropColumn('admission').execute();
}
