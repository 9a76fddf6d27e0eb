import type { Kysely } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 002's weekly report, keyed by the cycle that wrote it: a retried save finds its report.
  await db.schema
    .alterTable('governance_report')
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .execute();
  // Seed 001: what recording a trade outcome answered (demotion, promotion proposal), so a retry answers the same.
  await db.schema.alterTable('strategy_outcome').addColumn('effects', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('strategy_outcome').dropColumn('effects').execute();
  await db.schema.alterTable('governance_report').dropColumn('idempotency_key').execute();
}
