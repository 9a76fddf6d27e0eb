import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { listAuditEvents } from '../../src/db/audit.repository';
import { listRestrictions } from '../../src/db/restrictions.repository';
import type { ControlPlaneChange } from '../../src/domain/control-plane/types';
import { createTestDatabase, markGoLivePlaybookCompleted, TEST_SETTINGS, type TestDatabase } from '../helpers';
import { recordedChangeRequest } from '../support/change-requests';

// The control plane's own check (invariant 8): a loosening change counts only
// as the application of an approved change request that includes exactly it.
describe('control-plane authority for loosening changes (persist activity, PostgreSQL)', () => {
  let t: TestDatabase;
  let n = 0;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });
  const persist = (change: ControlPlaneChange) =>
    createControlPlaneActivities({ db: t.db, settings: TEST_SETTINGS }).persistControlPlaneChange({
      changeId: `c-${++n}`,
      change,
    });
  const goLiveOn = { kind: 'control_plane' as const, target: 'goLive' as const, before: false, after: true };
  const toLive = {
    kind: 'control_plane' as const,
    target: 'applyMode' as const,
    before: 'dry_run' as const,
    after: 'live' as const,
  };
  const refusals = async () =>
    (await listAuditEvents(t.db, { kind: 'control_plane.change_refused' }))
      .map((e) => (e.details as { outcome: { reason: string } }).outcome.reason)
      .reverse();

  it('refuses go-live on and apply mode live without a change request, or with a forged, pending or mismatched one', async () => {
    await markGoLivePlaybookCompleted(t.db);
    const pending = await recordedChangeRequest(t.db, [goLiveOn], 'pending');
    const modeOnly = await recordedChangeRequest(t.db, [toLive]);
    for (const changeRequestId of [undefined, 'cr-forged000000', pending, modeOnly]) {
      const refused = await persist({
        kind: 'setGoLive',
        enabled: true,
        actor: 'eve',
        ...(changeRequestId ? { changeRequestId } : {}),
      });
      expect(refused).toMatchObject({ goLiveEnabled: false, outcome: { status: 'refused' } });
    }
    expect(await persist({ kind: 'setApplyMode', mode: 'live', actor: 'eve' })).toMatchObject({
      applyMode: 'dry_run',
      outcome: { status: 'refused' },
    });
    expect(await refusals()).toEqual([
      'changeRequestId: go-live on is a change request: open one with `warden go-live on` or POST /change-requests; it applies once others approve it',
      'changeRequestId: Warden holds no change request cr-forged000000',
      `changeRequestId: change request ${pending} is pending, not approved`,
      `changeRequestId: change request ${modeOnly} does not include this change (go-live on)`,
      'changeRequestId: apply mode live is a change request: open one with `warden apply-mode live` or POST /change-requests; it applies once others approve it',
    ]);
  });

  it('applies an approved request once: the event names it, and a second use is refused', async () => {
    await markGoLivePlaybookCompleted(t.db);
    const changeRequestId = await recordedChangeRequest(t.db, [goLiveOn, toLive]);
    expect(await persist({ kind: 'setGoLive', enabled: true, actor: 'h2-applier', changeRequestId })).toMatchObject({
      goLiveEnabled: true,
      outcome: { status: 'applied' },
    });
    expect(await persist({ kind: 'setApplyMode', mode: 'live', actor: 'h2-applier', changeRequestId })).toMatchObject({
      applyMode: 'live',
      outcome: { status: 'applied' },
    });
    const [event] = await listAuditEvents(t.db, { kind: 'control_plane.go_live_set' });
    expect(event!.details).toMatchObject({ authority: { changeRequestId, change: { target: 'goLive', after: true } } });
    // Tightening needs nobody's approval; the same request does not loosen it again.
    expect(await persist({ kind: 'setApplyMode', mode: 'dry_run', actor: 'auto-disarm' })).toMatchObject({
      applyMode: 'dry_run',
      outcome: { status: 'applied' },
    });
    expect(await persist({ kind: 'setApplyMode', mode: 'live', actor: 'mallory', changeRequestId })).toMatchObject({
      applyMode: 'dry_run',
      outcome: {
        status: 'refused',
        reason: `changeRequestId: change request ${changeRequestId} was already applied for apply mode dry_run → live; a new one is needed`,
      },
    });
  });

  it('go-live on needs a playbook completed after the last go-live off', async () => {
    await markGoLivePlaybookCompleted(t.db);
    expect(
      await persist({
        kind: 'setGoLive',
        enabled: true,
        actor: 'ops',
        changeRequestId: await recordedChangeRequest(t.db, [goLiveOn]),
      }),
    ).toMatchObject({ goLiveEnabled: true });
    expect(await persist({ kind: 'setGoLive', enabled: false, actor: 'ops', reason: 'incident' })).toMatchObject({
      goLiveEnabled: false,
      outcome: { status: 'applied' },
    });
    const again = await recordedChangeRequest(t.db, [goLiveOn]);
    expect(await persist({ kind: 'setGoLive', enabled: true, actor: 'ops', changeRequestId: again })).toMatchObject({
      goLiveEnabled: false,
      outcome: {
        status: 'refused',
        reason: expect.stringMatching(
          /^enabled: go-live was turned off at .*, after the last goLivePlaybook completed/,
        ),
      },
    });
    // A go-live off while already off is no new incident: only on → off counts.
    await markGoLivePlaybookCompleted(t.db);
    await persist({ kind: 'setGoLive', enabled: false, actor: 'ops' });
    expect(await persist({ kind: 'setGoLive', enabled: true, actor: 'ops', changeRequestId: again })).toMatchObject({
      goLiveEnabled: true,
      outcome: { status: 'applied' },
    });
  });

  it('lifting a restriction needs a request naming it; placing one needs none', async () => {
    const restrict = {
      kind: 'restrictEngine' as const,
      engine: 'WHOLESALE',
      restriction: 'pause' as const,
      source: 'operator',
      actor: 'eve',
      reason: 'drill',
    };
    expect(await persist(restrict)).toMatchObject({ outcome: { status: 'applied' } });
    const [placed] = await listRestrictions(t.db);
    const clear = { kind: 'clearEngineRestriction' as const, restrictionId: placed!.id, actor: 'eve', reason: 'over' };
    const other = await recordedChangeRequest(t.db, [
      { kind: 'restriction', target: '999', before: { engine: 'WHOLESALE', restriction: 'pause' }, after: null },
    ]);
    expect(await persist(clear)).toMatchObject({ outcome: { status: 'refused' } });
    expect(await persist({ ...clear, changeRequestId: other })).toMatchObject({ outcome: { status: 'refused' } });
    expect(await listRestrictions(t.db)).toHaveLength(1);
    const named = await recordedChangeRequest(t.db, [
      { kind: 'restriction', target: placed!.id, before: { engine: 'WHOLESALE', restriction: 'pause' }, after: null },
    ]);
    expect(await persist({ ...clear, changeRequestId: named })).toMatchObject({ outcome: { status: 'applied' } });
    expect(await listRestrictions(t.db)).toEqual([]);
    expect((await refusals())[0]).toMatch(/^changeRequestId: lifting a restriction is a change request/);
  });
});
