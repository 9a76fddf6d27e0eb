import type { Kysely } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 19: a tripwire's baseline reset (seed 000's Friday "reset regression baselines after good week").
  // Events before it no longer count; null compares against every event, as before.
  await db.schema.alterTable('regression_policy').addColumn('baseline_since', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('regression_policy').dropColumn('baseline_since').execute();
}
