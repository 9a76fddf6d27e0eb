import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { createWatchdogActivities } from '../../activities/watchdogs';
import { listAuditEvents } from '../../src/db/audit.repository';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import type { ChangeControlPlaneInput, ControlPlaneView } from '../../src/domain/control-plane/types';
import { controlPlane } from '../../workflows/control-plane';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import {
  changeControlPlaneUpdate,
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from '../../workflows/messages';
import {
  connectDevServer,
  createTestDatabase,
  markGoLivePlaybookCompleted,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';
import { recordedChangeRequest } from '../support/change-requests';

async function settled(
  handle: WorkflowHandle,
  predicate: (view: ControlPlaneView) => boolean,
): Promise<ControlPlaneView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await handle.query(controlPlaneStateQuery).catch(() => undefined);
    if (view && view.pendingChanges === 0 && predicate(view)) return view;
    if (Date.now() > deadline) throw new Error(`control plane did not settle: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Item 8 and 10 of issue 13: nothing jams the queue, and the control plane is
// the one writer of engine restrictions.
describe('controlPlane cannot be jammed, and writes every engine restriction', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;

  beforeAll(async () => {
    // The control plane runs only as warden-control-plane: this file has a namespace of its own.
    env = await connectDevServer('warden-control-plane-unjammable-e2e');
  });
  afterAll(async () => {
    await env?.teardown();
  });
  beforeEach(async (ctx) => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    taskQueue = uniqueName(ctx.task.name.slice(0, 40).replaceAll(' ', '-'));
  });
  afterEach(async () => {
    // One control plane per namespace: the next test starts its own under the same id.
    await env.client.workflow
      .getHandle(CONTROL_PLANE_WORKFLOW_ID)
      .terminate('test over')
      .catch(() => undefined);
    await t.drop();
  });

  const worker = () =>
    Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createControlPlaneActivities({ db: t.db, settings: TEST_SETTINGS, persistAttempts: 2 }),
    });
  const start = () =>
    env.client.workflow.start(controlPlane, { taskQueue, workflowId: CONTROL_PLANE_WORKFLOW_ID, args: [{}] });
  const policy = (engine: string) =>
    t.db.selectFrom('risk_policy').select(['engine', 'enabled']).where('engine', '=', engine).executeTakeFirst();

  it('drops a change the database will not take (audited, answered), and the engage behind it jumps the queue', async () => {
    // Faults in the content, not outages: a data error (22023) at once, an unknown one (P0001) after bounded attempts.
    await sql`create function poison() returns trigger language plpgsql as $$
      begin
        if new.reason = 'poison-data' then raise exception 'poisoned data' using errcode = '22023'; end if;
        if new.reason = 'poison-unknown' then raise exception 'poisoned, unknown'; end if;
        return new;
      end $$`.execute(t.superuser);
    await sql`create trigger poison before update on control_plane_state for each row execute function poison()`.execute(
      t.superuser,
    );
    const w = await worker();
    const handle = await w.runUntil(async () => {
      const handle = await start();
      await settled(handle, () => true);
      const change = (input: ChangeControlPlaneInput) =>
        handle.executeUpdate(changeControlPlaneUpdate, { args: [input] });
      // Towards live: each applies an approved change request (a dropped change spends none of it).
      const changeRequestId = await recordedChangeRequest(t.db, [
        { kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'testnet' },
      ]);
      // Awaited: the caller hears the refusal.
      expect(
        await change({ kind: 'setApplyMode', mode: 'testnet', actor: 'alice', reason: 'poison-data', changeRequestId }),
      ).toMatchObject({
        outcome: {
          status: 'refused',
          reason: expect.stringMatching(/^not persisted, dropped: .*22023.*poisoned data/),
        },
        state: { version: 0, applyMode: 'dry_run' },
      });
      // The unknown fault retries (1 s backoff) while two changes queue behind it; the engage goes first.
      await handle.signal(setGoLiveSignal, { enabled: false, actor: 'bob', reason: 'poison-unknown' });
      await handle.signal(setApplyModeSignal, {
        mode: 'testnet',
        actor: 'carol',
        reason: 'paper week',
        changeRequestId,
      });
      await handle.signal(engageKillSwitchSignal, { source: 'operator', actor: 'dana', reason: 'stop now' });
      const view = await settled(handle, (v) => v.version === 2);
      expect(view).toMatchObject({
        killSwitchEngaged: true,
        killSwitchEngagedBy: 'dana',
        applyMode: 'testnet',
        droppedChanges: 2,
      });
      return handle;
    });
    const kinds = (await listAuditEvents(t.db)).map((e) => [e.kind, e.actor]).reverse();
    expect(kinds).toEqual([
      ['control_plane.change_dropped', 'alice'],
      ['control_plane.change_dropped', 'bob'],
      ['control_plane.kill_switch_engaged', 'dana'],
      ['control_plane.apply_mode_set', 'carol'],
    ]);
    const [unknown, data] = await listAuditEvents(t.db, { kind: 'control_plane.change_dropped' });
    expect(data?.details).toMatchObject({ awaited: true, change: { kind: 'setApplyMode', reason: 'poison-data' } });
    expect(String(unknown?.details.problem)).toMatch(/still failing after 2 attempts/);
    if (process.env.WARDEN_RECORD_HISTORIES === '1') {
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'control-plane-unjammable.json'),
        historyToJSON(await handle.fetchHistory()),
      );
    }
  });

  it('an engage is never refused for its form; other malformed changes are, and a NUL never reaches the database', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start();
      await settled(handle, () => true);
      const raw = env.client.workflow.getHandle(handle.workflowId);
      const engaged = await raw.executeUpdate('changeControlPlane', {
        args: [{ kind: 'engageKillSwitch', source: 'Bad Source', actor: 'eve\u0000', reason: 'x'.repeat(5000) }],
      });
      expect(engaged).toMatchObject({
        outcome: { status: 'applied' },
        state: {
          killSwitchEngaged: true,
          killSwitchSource: 'unknown',
          killSwitchEngagedBy: 'malformed actor: eve\\u0000',
          reason: expect.stringMatching(/^malformed reason: x+…\[truncated, 5000 characters\]$/),
        },
      });
      const refused = await raw
        .executeUpdate('changeControlPlane', {
          args: [{ kind: 'setGoLive', enabled: false, actor: 'eve', reason: 'nul\u0000' }],
        })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((refused as WorkflowUpdateFailedError).cause?.message)).toBe(
        'reason: must not contain control characters (found U+0000)',
      );
      await raw.signal('setGoLive', { enabled: false, actor: 'eve\u0000', reason: 'nul' });
      await settled(handle, (v) => v.rejectedSignals === 1);
    });
    const [rejection] = await listAuditEvents(t.db, { kind: 'control_plane.signal_rejected' });
    expect(rejection).toMatchObject({ actor: 'eve\\u0000', details: { payload: { actor: 'eve\\u0000' } } });
  });

  it('clearing the last throttle restores the policy as it was: disabled stays disabled, none stays none', async () => {
    await t.db.updateTable('risk_policy').set({ enabled: false }).where('engine', '=', 'CAPITAL').execute();
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start();
      await settled(handle, () => true);
      const change = (input: ChangeControlPlaneInput) =>
        handle.executeUpdate(changeControlPlaneUpdate, { args: [input] });
      const throttle = (engine: string, source: string) =>
        change({ kind: 'restrictEngine', engine, restriction: 'throttle', source, actor: 'ops', reason: 'drill' });
      for (const engine of ['CAPITAL', 'WHOLESALE', 'NEWENGINE']) {
        expect(await throttle(engine, 'operator')).toMatchObject({ outcome: { status: 'applied' } });
      }
      expect(await throttle('WHOLESALE', 'tripwire:WHOLESALE/contract_rate')).toMatchObject({
        outcome: { status: 'applied' },
      });
      expect(await policy('NEWENGINE')).toEqual({ engine: 'NEWENGINE', enabled: false });
      // Lifting is loosening: each clear applies its change of an approved request.
      const lift = (engine: string, extra: { source?: string } = {}) =>
        ({ kind: 'restriction', target: engine, before: { engine, ...extra }, after: null }) as const;
      const changeRequestId = await recordedChangeRequest(t.db, [
        lift('WHOLESALE', { source: 'operator' }),
        ...['CAPITAL', 'WHOLESALE', 'NEWENGINE'].map((engine) => lift(engine)),
      ]);
      const clear = (engine: string, extra: { source?: string } = {}) =>
        change({
          kind: 'clearEngineRestriction',
          engine,
          ...extra,
          actor: 'ops',
          reason: 'drill over',
          changeRequestId,
        });
      // One of two throttles lifted: still throttled.
      expect(await clear('WHOLESALE', { source: 'operator' })).toMatchObject({ outcome: { status: 'applied' } });
      expect(await policy('WHOLESALE')).toEqual({ engine: 'WHOLESALE', enabled: false });
      for (const engine of ['CAPITAL', 'WHOLESALE', 'NEWENGINE']) {
        expect(await clear(engine)).toMatchObject({ outcome: { status: 'applied' } });
      }
      expect(await clear('CAPITAL')).toMatchObject({
        outcome: { status: 'refused', reason: 'engine: no active restriction on CAPITAL' },
      });
    });
    expect(await policy('CAPITAL')).toEqual({ engine: 'CAPITAL', enabled: false });
    expect(await policy('WHOLESALE')).toEqual({ engine: 'WHOLESALE', enabled: true });
    expect(await policy('NEWENGINE')).toBeUndefined();
    const cleared = await listAuditEvents(t.db, { kind: 'control_plane.engine_restriction_cleared' });
    expect(cleared).toHaveLength(4);
  });

  it('a risk-policy edit cannot lift a throttle: the engine stays disabled, and the edit is what the clear restores', async () => {
    const edit = (engine: string, enabled: boolean) =>
      upsertRiskPolicy(
        t.db,
        { engine, maxDailyLoss: 100, maxDailyExposure: 1000, maxOpenRisk: null, maxActionsPerDay: null, enabled },
        'risk-officer',
      );
    await edit('EDITED_ON', true);
    await edit('EDITED_OFF', true);
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start();
      await settled(handle, () => true);
      const change = (input: ChangeControlPlaneInput) =>
        handle.executeUpdate(changeControlPlaneUpdate, { args: [input] });
      for (const engine of ['EDITED_ON', 'EDITED_OFF'])
        await change({
          kind: 'restrictEngine',
          engine,
          restriction: 'throttle',
          source: 'operator',
          actor: 'ops',
          reason: 'drill',
        });
      // The side door: re-enabling through the policy setter while throttled.
      expect(await edit('EDITED_ON', true)).toMatchObject({ enabled: false });
      await edit('EDITED_OFF', false);
      expect(await policy('EDITED_ON')).toEqual({ engine: 'EDITED_ON', enabled: false });
      const changeRequestId = await recordedChangeRequest(
        t.db,
        ['EDITED_ON', 'EDITED_OFF'].map((engine) => ({
          kind: 'restriction',
          target: engine,
          before: { engine },
          after: null,
        })),
      );
      for (const engine of ['EDITED_ON', 'EDITED_OFF'])
        await change({ kind: 'clearEngineRestriction', engine, actor: 'ops', reason: 'drill over', changeRequestId });
    });
    expect(await policy('EDITED_ON')).toEqual({ engine: 'EDITED_ON', enabled: true });
    expect(await policy('EDITED_OFF')).toEqual({ engine: 'EDITED_OFF', enabled: false });
  });

  it('the tripwire restricts through the control plane, never the database', async () => {
    const port = {
      setApplyMode: vi.fn(async () => undefined),
      engageKillSwitch: vi.fn(async () => undefined),
      refreshCapitalBand: vi.fn(async () => undefined),
      restrictEngine: vi.fn(async () => undefined),
    };
    const watchdogs = createWatchdogActivities({ db: t.db, controlPlane: port, pingTemporal: async () => undefined });
    await watchdogs.applyEngineRestriction({
      engine: 'WHOLESALE',
      kind: 'throttle',
      source: 'tripwire:WHOLESALE/contract_rate',
      reason: 'drop 40%',
    });
    expect(port.restrictEngine).toHaveBeenCalledWith({
      engine: 'WHOLESALE',
      restriction: 'throttle',
      source: 'tripwire:WHOLESALE/contract_rate',
      actor: 'tripwire',
      reason: 'drop 40%',
    });
    expect(await t.db.selectFrom('engine_restriction').selectAll().execute()).toEqual([]);
  });
});
