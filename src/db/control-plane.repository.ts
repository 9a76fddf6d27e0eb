import type { Kysely } from 'kysely';
import { applyControlPlaneChange, CONTROL_PLANE_AUDIT_KINDS, CONTROL_PLANE_SUBJECT } from '../control-plane/rules';
import type { ControlPlaneChange, ControlPlaneState } from '../control-plane/types';
import { appendAuditEvent } from './audit.repository';
import type { ControlPlaneStateRow, Database } from './database';

export function toControlPlaneState(row: ControlPlaneStateRow): ControlPlaneState {
  return {
    goLiveEnabled: row.go_live_enabled,
    killSwitchEngaged: row.kill_switch_engaged,
    killSwitchSource: row.kill_switch_source,
    applyMode: row.apply_mode,
    reason: row.reason,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

export async function readControlPlaneState(db: Kysely<Database>): Promise<ControlPlaneState> {
  const row = await db.selectFrom('control_plane_state').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  return toControlPlaneState(row);
}

/**
 * Persists one change and its audit event in one transaction. `changeId`
 * makes a retried call return the state it already wrote instead of applying
 * the change twice.
 */
export async function persistControlPlaneChange(
  db: Kysely<Database>,
  changeId: string,
  change: ControlPlaneChange,
): Promise<ControlPlaneState> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('control_plane_state').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
    const current = toControlPlaneState(row);
    if (row.last_change_id === changeId) return current;
    const at = new Date();
    const next = applyControlPlaneChange(current, change, at);
    await trx
      .updateTable('control_plane_state')
      .set({
        go_live_enabled: next.goLiveEnabled,
        kill_switch_engaged: next.killSwitchEngaged,
        kill_switch_source: next.killSwitchSource,
        apply_mode: next.applyMode,
        reason: next.reason,
        updated_by: next.updatedBy,
        updated_at: at,
        version: next.version,
        last_change_id: changeId,
      })
      .where('id', '=', 1)
      .execute();
    const { kind, actor, ...fields } = change;
    await appendAuditEvent(trx, {
      at,
      actor,
      kind: CONTROL_PLANE_AUDIT_KINDS[kind],
      subject: CONTROL_PLANE_SUBJECT,
      details: { change: { kind, ...fields }, before: current, after: next },
      idempotencyKey: `control-plane:${changeId}`,
    });
    return next;
  });
}
