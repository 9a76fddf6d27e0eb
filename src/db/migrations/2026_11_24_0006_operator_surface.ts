import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Asymmetric kill switch: when and by whom it was engaged (the release
  // cooldown and the self-approval rule need both), and the release
  // approvals collected so far.
  await db.schema
    .alterTable('control_plane_state')
    .addColumn('kill_switch_engaged_at', 'timestamptz')
    .addColumn('kill_switch_engaged_by', 'text')
    .addColumn('release_approvals', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('capital_band', 'text', (c) =>
      c
        .notNull()
        .defaultTo('A')
        .check(sql`capital_band in ('A', 'B', 'C', 'D')`),
    )
    .addColumn('capital_usage', 'double precision')
    .execute();

  // API keys: only a hash of the secret is kept; the key is shown once.
  await db.schema
    .createTable('api_key')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('identity', 'text', (c) => c.notNull())
    .addColumn('roles', 'jsonb', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .addColumn('last_used_at', 'timestamptz')
    .execute();

  // A signed approval token is good for one approval.
  await db.schema
    .createTable('approval_token_use')
    .addColumn('token_id', 'text', (c) => c.primaryKey())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('used_for', 'text', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('approval_token_use').execute();
  await db.schema.dropTable('api_key').execute();
  await db.schema
    .alterTable('control_plane_state')
    .dropColumn('kill_switch_engaged_at')
    .dropColumn('kill_switch_engaged_by')
    .dropColumn('release_approvals')
    .dropColumn('capital_band')
    .dropColumn('capital_usage')
    .execute();
}
