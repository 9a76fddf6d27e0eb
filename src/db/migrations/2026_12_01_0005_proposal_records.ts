import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Warden's own record of a proposal, keyed by the proposal's workflow id: its terms, what it starts from,
  // and who asked for it. expansionProposal and strategyPromotion load their terms from here, never from
  // their start payload; a workflow for an id without an open record refuses at once.
  await db.schema
    .createTable('proposal_record')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('expansion', 'promotion')`))
    /** `autonomy` for an expansion, the strategy id for a promotion. */
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('from_state', 'text', (c) => c.notNull())
    .addColumn('to_state', 'text', (c) => c.notNull())
    .addColumn('terms', 'jsonb', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('closed_at', 'timestamptz')
    .addColumn('closed_status', 'text')
    .execute();
  // A proposal that found the phase moved on ends `stale`; one for an id Warden never proposed is `refused`.
  await sql`alter table expansion_proposal drop constraint if exists expansion_proposal_status_check`.execute(db);
  await sql`alter table expansion_proposal add constraint expansion_proposal_status_check
    check (status in ('pending', 'validating', 'validated', 'rejected', 'expired', 'reverted', 'stale', 'refused'))`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from expansion_proposal where status in ('stale', 'refused')`.execute(db);
  await sql`alter table expansion_proposal drop constraint if exists expansion_proposal_status_check`.execute(db);
  await sql`alter table expansion_proposal add constraint expansion_proposal_status_check
    check (status in ('pending', 'validating', 'validated', 'rejected', 'expired', 'reverted'))`.execute(db);
  await db.schema.dropTable('proposal_record').execute();
}
