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
});
