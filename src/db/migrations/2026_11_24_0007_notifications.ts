import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 004's notification queue: written in the transaction of the audit event it announces.
  await db.schema
    .createTable('notification')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // No foreign key: audit events are never deleted, and the append-only log's own trigger must stay what refuses a TRUNCATE.
    .addColumn('audit_event_id', 'bigint', (c) => c.notNull().unique())
    // Set once a delivery row exists for every webhook configured at that moment.
    .addColumn('routed_at', 'timestamptz')
    .execute();
  await sql`create index notification_unrouted on notification (id) where routed_at is null`.execute(db);

  // No URL column: webhook URLs often carry a secret, so only the name is stored and the URL is read from configuration at send time.
  await db.schema
    .createTable('notification_delivery')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('notification_id', 'bigint', (c) => c.notNull().references('notification.id'))
    .addColumn('webhook', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'delivered', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('delivered_at', 'timestamptz')
    .addUniqueConstraint('notification_delivery_once', ['notification_id', 'webhook'])
    .execute();
  await sql`create index notification_delivery_pending on notification_delivery (webhook, id) where status = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['notification_delivery', 'notification']) await db.schema.dropTable(table).execute();
}
