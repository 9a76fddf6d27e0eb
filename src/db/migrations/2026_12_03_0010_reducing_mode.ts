import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

const money = 'numeric(18, 2)';

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 17: the kill switch's mode (halt or reduce); a switch engaged before modes was a halt.
  await db.schema
    .alterTable('control_plane_state')
    .addColumn('kill_switch_mode', 'text', (c) => c.check(sql`kill_switch_mode in ('halt', 'reduce')`))
    .execute();
  await sql`update control_plane_state set kill_switch_mode = 'halt' where kill_switch_engaged`.execute(db);
  // Exits: a reserve that reduces a position takes open risk but no daily exposure; per engine, exits may
  // also pass a breached daily-loss cap (off unless a change request turns it on).
  await db.schema
    .alterTable('risk_policy')
    .addColumn('exits_ignore_loss_cap', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .alterTable('risk_reservation')
    .addColumn('counts_exposure', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();
  // What admitted exits hold of a position until they settle or are released: two exits racing on one
  // position cannot together take more than it holds, or flip it.
  await db.schema
    .createTable('position_exit_hold')
    .addColumn('idempotency_key', 'text', (c) => c.primaryKey())
    .addColumn('deal_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('amount', money, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('position_exit_hold_position')
    .on('position_exit_hold')
    .columns(['scope', 'scope_id', 'symbol'])
    .execute();
  await db.schema.createIndex('position_exit_hold_deal').on('position_exit_hold').column('deal_id').execute();
  // Commands that may run in reduce mode (SHUTDOWN, SET_POWER to 0…): marked by their policy.
  await db.schema
    .alterTable('command_policy')
    .addColumn('safe_in_reduce', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // A tripwire may put the kill switch in reduce mode.
  await sql`alter table regression_policy drop constraint regression_policy_action_check`.execute(db);
  await sql`alter table regression_policy add constraint regression_policy_action_check
    check (action in ('THROTTLE', 'PAUSE', 'REDUCE_ONLY', 'KILL_SWITCH'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table regression_policy drop constraint regression_policy_action_check`.execute(db);
  await sql`alter table regression_policy add constraint regression_policy_action_check
    check (action in ('THROTTLE', 'PAUSE', 'KILL_SWITCH'))`.execute(db);
  await db.schema.alterTable('command_policy').dropColumn('safe_in_reduce').execute();
  await db.schema.dropTable('position_exit_hold').execute();
  await db.schema.alterTable('risk_reservation').dropColumn('counts_exposure').execute();
  await db.schema.alterTable('risk_policy').dropColumn('exits_ignore_loss_cap').execute();
  await db.schema.alterTable('control_plane_state').dropColumn('kill_switch_mode').execute();
}
