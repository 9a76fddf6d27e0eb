import type { Kysely, Transaction } from 'kysely';
import type { ChangeOutcome, ControlPlaneState } from '../domain/control-plane/types';
import type { ControlPlaneStateRow, Database } from './database';

export function toControlPlaneState(row: ControlPlaneStateRow): ControlPlaneState {
  return {
    goLiveEnabled: row.go_live_enabled,
    killSwitchEngaged: row.kill_switch_engaged,
    killSwitchSource: row.kill_switch_source,
    killSwitchEngagedAt: row.kill_switch_engaged_at?.toISOString() ?? null,
    killSwitchEngagedBy: row.kill_switch_engaged_by,
    // A switch engaged before modes existed was engaged in halt.
    killSwitchMode: row.kill_switch_engaged ? (row.kill_switch_mode ?? 'halt') : null,
    releaseApprovals: row.release_approvals,
    applyMode: row.apply_mode,
    capitalBand: row.capital_band,
    capitalUsage: row.capital_usage,
    reason: row.reason,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

/**
 * The state. With `share` inside a transaction, the row is held FOR SHARE until it ends: readers do not
 * wait for each other, but a change (which locks the row FOR UPDATE) commits either before this read or
 * after the transaction.
 */
export async function readControlPlaneState(
  db: Kysely<Database> | Transaction<Database>,
  options: { share?: boolean } = {},
): Promise<ControlPlaneState> {
  const query = db.selectFrom('control_plane_state').selectAll().where('id', '=', 1);
  const row = await (options.share ? query.forShare() : query).executeTakeFirstOrThrow();
  return toControlPlaneState(row);
}

/** The state row, locked until the transaction ends: one writer at a time. */
export async function lockControlPlaneState(trx: Transaction<Database>): Promise<ControlPlaneStateRow> {
  return trx.selectFrom('control_plane_state').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
}

/** The outcome a change recorded in its audit event (what a retry answers with). */
export async function findRecordedOutcome(
  db: Kysely<Database> | Transaction<Database>,
  idempotencyKey: string,
): Promise<ChangeOutcome | undefined> {
  const event = await db
    .selectFrom('audit_event')
    .select('details')
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  return (event?.details as { outcome?: ChangeOutcome } | undefined)?.outcome;
}

/** Records a change decided without changing the state (a refusal): its id only, the retry guard. */
export async function markControlPlaneChangeDecided(trx: Transaction<Database>, changeId: string): Promise<void> {
  await trx.updateTable('control_plane_state').set({ last_change_id: changeId }).where('id', '=', 1).execute();
}

/** Writes the next state and the change that made it (`last_change_id`, the retry guard). */
export async function writeControlPlaneState(
  trx: Transaction<Database>,
  next: ControlPlaneState,
  changeId: string,
): Promise<void> {
  await trx
    .updateTable('control_plane_state')
    .set({
      go_live_enabled: next.goLiveEnabled,
      kill_switch_engaged: next.killSwitchEngaged,
      kill_switch_source: next.killSwitchSource,
      kill_switch_engaged_at: next.killSwitchEngagedAt === null ? null : new Date(next.killSwitchEngagedAt),
      kill_switch_engaged_by: next.killSwitchEngagedBy,
      kill_switch_mode: next.killSwitchEngaged ? (next.killSwitchMode ?? 'halt') : null,
      release_approvals: JSON.stringify(next.releaseApprovals),
      apply_mode: next.applyMode,
      capital_band: next.capitalBand,
      capital_usage: next.capitalUsage,
      reason: next.reason,
      updated_by: next.updatedBy,
      updated_at: new Date(next.updatedAt),
      version: next.version,
      last_change_id: changeId,
    })
    .where('id', '=', 1)
    .execute();
}
