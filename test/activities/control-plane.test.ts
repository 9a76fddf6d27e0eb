import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { listAuditEvents } from '../../src/db/audit.repository';
import { createTestDatabase, TEST_SETTINGS, type TestDatabase } from '../helpers';

describe('control-plane activities on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });
  const activities = () => createControlPlaneActivities({ db: t.db, settings: TEST_SETTINGS });

  it('persists a change with one audit event, and a retry of its change id decides nothing again', async () => {
    const change = { kind: 'engageKillSwitch' as const, source: 'operator', actor: 'olga', reason: 'drill' };
    const first = await activities().persistControlPlaneChange({ changeId: 'c-1', change });
    expect(first).toMatchObject({ killSwitchEngaged: true, outcome: { status: 'applied' } });
    const retry = await activities().persistControlPlaneChange({ changeId: 'c-1', change });
    expect(retry).toEqual(first);
    expect(await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' })).toHaveLength(1);
    expect(await activities().checkControlPlane({ executionClass: 'PROD_EXEC' })).toMatchObject({ allowed: false });
  });

  it('refuses go-live until a playbook completed, and says so in the outcome', async () => {
    const refused = await activities().persistControlPlaneChange({
      changeId: 'c-2',
      change: { kind: 'setGoLive', enabled: true, actor: 'olga', reason: 'launch' },
    });
    expect(refused.goLiveEnabled).toBe(false);
    expect(refused.outcome.status).not.toBe('applied');
  });

  it('writes nothing of the state for a refused change but its id (the fuzz at 1,000 saw a rewrite)', async () => {
    // As migrations and seeds leave it: the database's own clock, to the microsecond.
    await t.db
      .updateTable('control_plane_state')
      .set({ updated_at: new Date('2026-12-01T10:00:00.123Z') })
      .execute();
    await sql`update control_plane_state set updated_at = updated_at + interval '456 microseconds'`.execute(t.db);
    const row = async () => {
      const { last_change_id: _id, ...state } = await t.db
        .selectFrom('control_plane_state')
        .selectAll()
        .executeTakeFirstOrThrow();
      return state;
    };
    const before = await sql<{ at: string }>`select updated_at::text as at from control_plane_state`.execute(t.db);
    const state = await row();
    const refused = await activities().persistControlPlaneChange({
      changeId: 'c-3',
      change: { kind: 'setGoLive', enabled: true, actor: 'olga', reason: 'launch' },
    });
    expect(refused.outcome.status).toBe('refused');
    expect(await row()).toEqual(state);
    const after = await sql<{ at: string }>`select updated_at::text as at from control_plane_state`.execute(t.db);
    expect(after.rows).toEqual(before.rows);
    // A retry still decides nothing again.
    const retry = await activities().persistControlPlaneChange({
      changeId: 'c-3',
      change: { kind: 'setGoLive', enabled: true, actor: 'olga', reason: 'launch' },
    });
    expect(retry.outcome).toEqual(refused.outcome);
  });
});
