import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 13: each command type's execution class, set by an operator; a type without a row is PROD_EXEC.
  await db.schema
    .createTable('command_policy')
    .addColumn('command_type', 'text', (c) => c.primaryKey().check(sql`command_type ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('execution_class', 'text', (c) =>
      c.notNull().check(sql`execution_class in ('OBSERVE_ONLY', 'SANDBOX_EXEC', 'PROD_EXEC')`),
    )
    .addColumn('reason', 'text')
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A command a gate stopped (denied) or that ran in dry_run is recorded, but is not an execution.
  await sql`alter table command_record drop constraint command_record_status_check`.execute(db);
  await sql`alter table command_record add constraint command_record_status_check
    check (status in ('succeeded', 'failed', 'rejected', 'rolled_back', 'denied', 'dry_run'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // The old constraint knows neither outcome: both were "not executed", which it records as rejected.
  await sql`alter table command_record drop constraint command_record_status_check`.execute(db);
  await sql`update command_record set status = 'rejected' where status in ('denied', 'dry_run')`.execute(db);
  await sql`alter table command_record add constraint command_record_status_check
    check (status in ('succeeded', 'failed', 'rejected', 'rolled_back'))`.execute(db);
  await db.schema.dropTable('command_policy').execute();
}
