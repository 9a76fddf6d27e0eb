import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ControlPlaneSettings, createControlPlaneActivities } from '../../activities/control-plane';
import { listAuditEvents, verifyAuditChain } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import type { ChangeControlPlaneInput, ControlPlaneView } from '../../src/domain/control-plane/types';
import { controlPlane } from '../../workflows/control-plane';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import {
  changeControlPlaneUpdate,
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  releaseKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from '../../workflows/messages';
import {
  connectDevServer,
  createTestDatabase,
  markGoLivePlaybookCompleted,
  TEST_SETTINGS,
  createTimeSkippingEnv,
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

// The control plane has no long timers, so the dev server covers it all; the
// core paths also run on the time-skipping server the timer-heavy workflows use.
describe.each([
  // The control plane runs only as warden-control-plane: this file has a namespace of its own.
  ['dev server', () => connectDevServer('warden-control-plane-e2e'), true],
  ['time-skipping server', createTimeSkippingEnv, false],
] as const)('controlPlane workflow on the %s', (_server, createEnv, full) => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;

  beforeAll(async () => {
    env = await createEnv();
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

  const worker = (settings: ControlPlaneSettings = TEST_SETTINGS) =>
    Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createControlPlaneActivities({ db: t.db, settings }),
    });
  const start = (input = {}) =>
    env.client.workflow.start(controlPlane, { taskQueue, workflowId: CONTROL_PLANE_WORKFLOW_ID, args: [input] });

  it('persists each change with one audit event before the query shows it', async () => {
    const w = await worker();
    const handle = await w.runUntil(async () => {
      const handle = await start();
      expect(await settled(handle, () => true)).toMatchObject({
        version: 0,
        goLiveEnabled: false,
        killSwitchEngaged: false,
        applyMode: 'dry_run',
      });
      // Loosening, each applying an approved change request (invariant 8).
      const changeRequestId = await recordedChangeRequest(t.db, [
        { kind: 'control_plane', target: 'goLive', before: false, after: true },
        { kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'testnet' },
      ]);
      await handle.signal(setGoLiveSignal, {
        enabled: true,
        actor: 'alice',
        reason: 'checklist done',
        changeRequestId,
      });
      await handle.signal(setApplyModeSignal, { mode: 'testnet', actor: 'alice', changeRequestId });
      // Settled first: an engage jumps the queue, and this test pins the order.
      await settled(handle, (v) => v.version === 2);
      await handle.signal(engageKillSwitchSignal, {
        source: 'tripwire',
        actor: 'tripwire',
        reason: 'roi_event dropped 35%',
      });
      const view = await settled(handle, (v) => v.version === 3);
      expect(view).toMatchObject({
        goLiveEnabled: true,
        applyMode: 'testnet',
        killSwitchEngaged: true,
        killSwitchSource: 'tripwire',
        updatedBy: 'tripwire',
        reason: 'roi_event dropped 35%',
      });
      // The query answers from what was persisted: the row says the same.
      expect(await readControlPlaneState(t.db)).toEqual({
        ...view,
        tradingState: undefined,
        pendingChanges: undefined,
        rejectedSignals: undefined,
        droppedChanges: undefined,
        ...(await readControlPlaneState(t.db)),
      });
      expect(await readControlPlaneState(t.db)).toMatchObject({
        version: 3,
        killSwitchEngaged: true,
        applyMode: 'testnet',
        goLiveEnabled: true,
      });
      await handle.signal(releaseKillSwitchSignal, { actor: 'bob', role: 'risk_officer', reason: 'false alarm' });
      await settled(handle, (v) => v.version === 4 && !v.killSwitchEngaged);
      return handle;
    });
    const kinds = (await listAuditEvents(t.db)).map((e) => e.kind).reverse();
    expect(kinds).toEqual([
      'control_plane.go_live_set',
      'control_plane.apply_mode_set',
      'control_plane.kill_switch_engaged',
      'control_plane.kill_switch_released',
    ]);
    const engaged = (await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' }))[0]!;
    expect(engaged).toMatchObject({ actor: 'tripwire', subject: 'control-plane' });
    expect(engaged.details).toMatchObject({
      change: { kind: 'engageKillSwitch', source: 'tripwire' },
      before: { killSwitchEngaged: false },
      after: { killSwitchEngaged: true, version: 3 },
    });
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 4 });
    if (full && process.env.WARDEN_RECORD_HISTORIES === '1') {
      const history = await handle.fetchHistory();
      writeFileSync(path.join(__dirname, '..', 'histories', 'control-plane-changes.json'), historyToJSON(history));
    }
  });

  it.runIf(full)(
    'trading states: reduce engages at once, reduce → halt at once, halt → reduce only by votes of others',
    async () => {
      const w = await worker({ ...TEST_SETTINGS, release: { cooldown: '0s', approvals: 1 } });
      const handle = await w.runUntil(async () => {
        const handle = await start();
        await settled(handle, () => true);
        const change = (input: ChangeControlPlaneInput) =>
          handle.executeUpdate(changeControlPlaneUpdate, { args: [input] });
        // A watchdog's REDUCE_ONLY engage, as plain JSON: reducing, at once.
        await handle.signal(engageKillSwitchSignal, {
          source: 'tripwire',
          actor: 'tripwire',
          reason: 'roi_event dropped',
          mode: 'reduce',
        });
        expect(await settled(handle, (v) => v.version === 1)).toMatchObject({
          tradingState: 'reducing',
          killSwitchEngaged: true,
          killSwitchMode: 'reduce',
        });
        // Reduce → halt tightens: at once, by anyone who may engage.
        expect(
          await change({ kind: 'engageKillSwitch', source: 'operator', actor: 'olga', reason: 'worse', mode: 'halt' }),
        ).toMatchObject({ outcome: { status: 'applied' }, state: { killSwitchMode: 'halt' } });
        // An engage asking reduce of a halted switch never loosens it.
        expect(
          await change({ kind: 'engageKillSwitch', source: 'canary', actor: 'canary', reason: 'down', mode: 'reduce' }),
        ).toMatchObject({ outcome: { status: 'applied' }, state: { killSwitchEngaged: true, killSwitchMode: 'halt' } });
        // Halt → reduce loosens: a release vote towards reduce, never by the engager.
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'canary', role: 'manager', reason: 'mine', mode: 'reduce' }),
        ).toMatchObject({ outcome: { status: 'refused', reason: expect.stringMatching(/^actor: canary engaged/) } });
        expect(
          await change({
            kind: 'releaseKillSwitch',
            actor: 'rita',
            role: 'risk_officer',
            reason: 'exits',
            mode: 'reduce',
          }),
        ).toMatchObject({
          outcome: { status: 'applied' },
          state: { killSwitchEngaged: true, killSwitchMode: 'reduce', releaseApprovals: [] },
        });
        expect(await settled(handle, () => true)).toMatchObject({ tradingState: 'reducing' });
        // Already reducing: a vote towards reduce is refused, naming the field; a plain vote releases.
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'rita', role: 'risk_officer', reason: 'x', mode: 'reduce' }),
        ).toMatchObject({ outcome: { status: 'refused', reason: expect.stringMatching(/^mode: /) } });
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'mona', role: 'manager', reason: 'closed out' }),
        ).toMatchObject({ outcome: { status: 'applied' }, state: { killSwitchEngaged: false, killSwitchMode: null } });
        return handle;
      });
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'control-plane-trading-states.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      const kinds = (await listAuditEvents(t.db)).map((e) => e.kind).reverse();
      expect(kinds).toEqual([
        'control_plane.kill_switch_engaged',
        'control_plane.kill_switch_engaged',
        'control_plane.kill_switch_engaged',
        'control_plane.change_refused',
        'control_plane.kill_switch_reduced',
        'control_plane.change_refused',
        'control_plane.kill_switch_released',
      ]);
    },
  );

  it.runIf(full)(
    'changeControlPlane answers each change: two distinct approvers release, the engager and a roleless vote are refused',
    async () => {
      const w = await worker({ ...TEST_SETTINGS, release: { cooldown: '0s', approvals: 2 } });
      const handle = await w.runUntil(async () => {
        const handle = await start();
        await settled(handle, () => true);
        const change = (input: ChangeControlPlaneInput) =>
          handle.executeUpdate(changeControlPlaneUpdate, { args: [input] });
        expect(
          await change({ kind: 'engageKillSwitch', source: 'operator', actor: 'olga', reason: 'drill' }),
        ).toMatchObject({ outcome: { status: 'applied' }, state: { killSwitchEngaged: true, version: 1 } });
        expect(await change({ kind: 'releaseKillSwitch', actor: 'rita', reason: 'ok' })).toMatchObject({
          outcome: { status: 'refused', reason: expect.stringMatching(/^role: name the role/) },
          state: { version: 1 },
        });
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'olga', role: 'manager', reason: 'mine' }),
        ).toMatchObject({
          outcome: { status: 'refused', reason: expect.stringMatching(/^actor: olga engaged the kill switch/) },
        });
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'rita', role: 'risk_officer', reason: 'ok' }),
        ).toMatchObject({
          outcome: { status: 'pending', detail: '1 of 2 approvals' },
          state: { killSwitchEngaged: true, releaseApprovals: [{ actor: 'rita', role: 'risk_officer' }] },
        });
        expect(
          await change({ kind: 'releaseKillSwitch', actor: 'mona', role: 'manager', reason: 'ok too' }),
        ).toMatchObject({ outcome: { status: 'applied' }, state: { killSwitchEngaged: false, releaseApprovals: [] } });
        // A malformed change is refused by the validator, before it reaches history.
        const bad = await change({
          kind: 'setApplyMode',
          mode: 'yolo',
          actor: 'x',
        } as unknown as ChangeControlPlaneInput).catch((e: unknown) => e);
        expect(bad).toBeInstanceOf(WorkflowUpdateFailedError);
        expect(String((bad as WorkflowUpdateFailedError).cause?.message)).toMatch(/^mode: /);
        return handle;
      });
      const kinds = (await listAuditEvents(t.db)).map((e) => e.kind).reverse();
      expect(kinds).toEqual([
        'control_plane.kill_switch_engaged',
        'control_plane.change_refused',
        'control_plane.change_refused',
        'control_plane.kill_switch_release_approved',
        'control_plane.kill_switch_released',
      ]);
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'control-plane-release.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      }
    },
  );

  it('audits and drops bad payloads without failing a workflow task or changing state; a malformed engage engages', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start();
      await settled(handle, () => true);
      const raw = env.client.workflow.getHandle(handle.workflowId);
      // Untyped sends, as an operator's typo from the CLI or Web UI would arrive.
      await raw.signal('engageKillSwitch', { source: 'operator', actor: 'alice' });
      await raw.signal('setApplyMode', { mode: 'yolo', actor: 'alice' });
      await raw.signal('setGoLive', { enabeld: true, actor: 'alice' });
      await raw.signal('releaseKillSwitch', null);
      await raw.signal('setGoLive', 'on');
      const view = await settled(handle, (v) => v.rejectedSignals === 4 && v.version === 1);
      // The engage without a reason is never refused for its form: recorded as malformed, it engages.
      expect(view).toMatchObject({
        version: 1,
        goLiveEnabled: false,
        killSwitchEngaged: true,
        killSwitchSource: 'operator',
        reason: 'malformed reason: <missing>',
        applyMode: 'dry_run',
      });
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const history = await handle.fetchHistory();
      const types = history.events!.map((e) => String(e.eventType));
      expect(types.some((type) => type.includes('WORKFLOW_TASK_FAILED') || type === '9')).toBe(false);
    });
    const rejections = (await listAuditEvents(t.db, { kind: 'control_plane.signal_rejected' })).reverse();
    expect(rejections.map((r) => [r.actor, r.details.signal, r.details.problem])).toEqual([
      ['alice', 'setApplyMode', expect.stringMatching(/^mode: Invalid option/)],
      ['alice', 'setGoLive', expect.stringMatching(/^enabled: .*; enabeld: unknown field$/)],
      ['unknown', 'releaseKillSwitch', expect.stringMatching(/^payload: /)],
      ['unknown', 'setGoLive', expect.stringMatching(/^payload: /)],
    ]);
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 1, killSwitchEngaged: true });
    const [engaged] = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' });
    expect(engaged?.details).toMatchObject({
      malformed: 'reason: Invalid input: expected string, received undefined',
    });
  });

  // Sticky-queue hand-over after a worker stops is only modelled faithfully by the real server.
  it.runIf(full)('continues as new on its own signal count and keeps its state', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start({ signalsPerRun: 3 });
      const firstRun = (await handle.describe()).runId;
      const toMode = (after: 'testnet' | 'live') =>
        ({ kind: 'control_plane', target: 'applyMode', before: 'dry_run', after }) as const;
      // Each request applies once: going testnet a second time takes a second one; dry_run takes none.
      const first = await recordedChangeRequest(t.db, [toMode('testnet'), toMode('live')]);
      const second = await recordedChangeRequest(t.db, [toMode('testnet')]);
      for (const [mode, changeRequestId] of [
        ['testnet', first],
        ['live', first],
        ['dry_run', undefined],
        ['testnet', second],
      ] as const) {
        await handle.signal(setApplyModeSignal, {
          mode,
          actor: 'alice',
          reason: `to ${mode}`,
          ...(changeRequestId ? { changeRequestId } : {}),
        });
      }
      await handle.signal('setGoLive', { nope: 1 });
      const latest = env.client.workflow.getHandle(handle.workflowId);
      const view = await settled(latest, (v) => v.version === 4 && v.rejectedSignals === 1);
      expect(view).toMatchObject({ applyMode: 'testnet', rejectedSignals: 1 });
      const description = await latest.describe();
      expect(description.runId).not.toBe(firstRun);
      expect(description.status.name).toBe('RUNNING');
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 4, applyMode: 'testnet' });
  });

  it.runIf(full)('resumes from history and the database after the worker restarts', async () => {
    const handle = await (
      await worker()
    ).runUntil(async () => {
      const handle = await start();
      await handle.signal(engageKillSwitchSignal, {
        source: 'canary',
        actor: 'canary',
        reason: 'postgres unreachable',
      });
      await settled(handle, (v) => v.version === 1);
      return handle;
    });
    // No worker now: the signal waits in history, nothing is lost.
    await handle.signal(releaseKillSwitchSignal, { actor: 'alice', role: 'manager', reason: 'postgres back' });
    await (
      await worker()
    ).runUntil(async () => {
      expect(await settled(handle, (v) => v.version === 2)).toMatchObject({
        killSwitchEngaged: false,
        updatedBy: 'alice',
      });
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 2, killSwitchEngaged: false });
  });

  it('fails fast on a bad start input, naming the field', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await start({ signalsPerRun: 0 });
      const error = await handle.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect((cause as Error).message).toMatch(/^invalid controlPlane input: signalsPerRun: /);
    });
  });

  it('a second control plane under another id writes nothing, even the engage it was handed', async () => {
    const audited = await listAuditEvents(t.db, { limit: 100 });
    const w = await worker();
    await w.runUntil(async () => {
      const rogue = await env.client.workflow.start(controlPlane, {
        taskQueue,
        workflowId: uniqueName('control-plane-rogue'),
        args: [
          {
            queued: [
              { ok: true, change: { kind: 'engageKillSwitch', source: 'operator', actor: 'mallory', reason: 'mine' } },
            ],
          },
        ],
      });
      const error = await rogue.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(((error as WorkflowFailedError).cause as Error).message).toMatch(
        /^workflowId: the control plane runs only as warden-control-plane/,
      );
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 0, killSwitchEngaged: false });
    expect(await listAuditEvents(t.db, { limit: 100 })).toEqual(audited);
  });
});
