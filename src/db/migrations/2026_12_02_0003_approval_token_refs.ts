import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Each signed approval token the API issues, under the reference the caller
  // is handed: signals carry the reference, so Temporal history holds no JWS.
  await db.schema
    .createTable('approval_token')
    .addColumn('reference', 'text', (c) => c.primaryKey())
    .addColumn('jws', 'text', (c) => c.notNull())
    .addColumn('token_id', 'text', (c) => c.notNull().unique())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Which request spent a token: the same request spending it again (a retry) is not a second use.
  await db.schema.alterTable('approval_token_use').addColumn('request_key', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approval_token_use').dropColumn('request_key').execute();
  await db.schema.dropTable('approval_token').execute();
}
