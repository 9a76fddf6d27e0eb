import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { WardenClient } from '../../src/client';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { toolPaths } from '../../src/config/paths';
import { type CliApi, exec, type Ran, serveCliApi } from '../support/processes';
import { armControlPlane, recordedChangeRequest } from '../support/change-requests';
import { waitFor } from './api-server';
import {
  createTestDatabase,
  markGoLivePlaybookCompleted,
  TEST_SETTINGS,
  devServerAddress,
  type TestDatabase,
  uniqueName,
  runDevServerWorker,
  type RunningWorker,
} from '../helpers';

// The public interface exactly as operators use it: the real `temporal`
// binary and the `warden` command, against the dev server.
describe('control plane end to end', () => {
  let t: TestDatabase;
  let worker: RunningWorker | undefined;
  let client: Client;
  let warden: WardenClient;
  let api: CliApi;
  let carol: (args: string[], extra?: Record<string, string>) => Promise<Ran>;
  const taskQueue = uniqueName('e2e');
  const address = devServerAddress();
  // Its own namespace: the control plane is a singleton per namespace, and other files run one too.
  const namespace = 'warden-control-plane-cli-e2e';
  const temporal = (...args: string[]) =>
    exec(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
  // `warden` as carol, through the API with her key: she holds two approver roles.
  const wardenCli = (args: string[], env: Record<string, string> = {}) => carol(args, env);

  beforeAll(async () => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: warden,
        settings: TEST_SETTINGS,
      }),
    });
    await warden.ensureControlPlane();
    await warden.ensureControlPlane(); // idempotent: still one running instance
    await warden.waitForControlPlane(0);
    api = await serveCliApi({ db: t.db, client, taskQueue });
    carol = api.cli(await api.key('carol', ['owner', 'risk_officer']), {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      WARDEN_TASK_QUEUE: taskQueue,
      DATABASE_URL: t.url,
    });
  });

  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await client?.connection.close();
    await t?.drop();
  });

  it('engageKillSwitch sent with `temporal workflow signal` lands in the row, the audit log and the query', async () => {
    const signal = await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      CONTROL_PLANE_WORKFLOW_ID,
      '--name',
      'engageKillSwitch',
      '--input',
      JSON.stringify({ source: 'operator', actor: 'dana', reason: 'drill from the CLI' }),
    );
    expect(signal).toMatchObject({ code: 0 });
    const view = await warden.waitForControlPlane(1);
    expect(view).toMatchObject({
      killSwitchEngaged: true,
      killSwitchSource: 'operator',
      updatedBy: 'dana',
      reason: 'drill from the CLI',
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ killSwitchEngaged: true, version: 1, updatedBy: 'dana' });
    const [event] = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' });
    expect(event).toMatchObject({
      actor: 'dana',
      details: { change: { source: 'operator', reason: 'drill from the CLI' } },
    });

    const query = await temporal(
      'workflow',
      'query',
      '--workflow-id',
      CONTROL_PLANE_WORKFLOW_ID,
      '--type',
      'state',
      '--output',
      'json',
    );
    expect(query.code).toBe(0);
    expect(JSON.parse(query.stdout)).toMatchObject({
      queryResult: [expect.objectContaining({ killSwitchEngaged: true, version: 1 })],
    });
  });

  it('a bad payload sent the same way changes nothing, is audited, and fails no workflow task', async () => {
    const before = await readControlPlaneState(t.db);
    const signal = await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      CONTROL_PLANE_WORKFLOW_ID,
      '--name',
      'releaseKillSwitch',
      '--input',
      JSON.stringify({ actor: 'eve', reasn: 'typo' }),
    );
    expect(signal.code).toBe(0);
    await expect.poll(async () => (await warden.controlPlaneState()).rejectedSignals, { timeout: 15_000 }).toBe(1);
    expect(await readControlPlaneState(t.db)).toEqual(before);
    const [rejection] = await listAuditEvents(t.db, { kind: 'control_plane.signal_rejected' });
    expect(rejection).toMatchObject({
      actor: 'eve',
      details: { signal: 'releaseKillSwitch', payload: { actor: 'eve', reasn: 'typo' } },
    });
    expect(String(rejection!.details.problem)).toMatch(/reason: .*reasn: unknown field/);

    const handle = client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const events = (await handle.fetchHistory()).events ?? [];
    const failedTasks = events.filter((e) => e.workflowTaskFailedEventAttributes != null);
    expect(failedTasks).toEqual([]);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes != null)).toHaveLength(2);
  });

  it('`warden` reads and changes the state, refusing bad arguments with exit code 2', async () => {
    const status = await wardenCli(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ killSwitchEngaged: true, version: 1, rejectedSignals: 1 });

    const missingReason = await wardenCli(['kill-switch', 'release']);
    expect(missingReason).toMatchObject({ code: 2, stderr: 'warden: --reason: required\n' });
    const badMode = await wardenCli(['apply-mode', 'yolo']);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/^warden: apply-mode: Invalid option/);
    const badEnv = await wardenCli(['status'], { TEMPORAL_ADDRESS: 'nowhere' });
    expect(badEnv).toMatchObject({
      code: 2,
      stderr: 'warden: invalid TEMPORAL_ADDRESS: expected host:port, e.g. localhost:7233\n',
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 1 });

    // A release is an approver's vote in one role: a key holding two must name it (bad input, exit 2).
    const roleless = await wardenCli(['kill-switch', 'release', '--reason', 'drill over']);
    expect(roleless).toMatchObject({
      code: 2,
      stderr: 'warden: body.role: carol holds several approver roles (owner, risk_officer); name one\n',
    });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 1, killSwitchEngaged: true });
    const release = await wardenCli([
      'kill-switch',
      'release',
      '--role',
      'risk_officer',
      '--reason',
      'drill over',
      '--json',
    ]);
    expect(release.code).toBe(0);
    expect(JSON.parse(release.stdout)).toMatchObject({
      outcome: { status: 'applied' },
      state: { killSwitchEngaged: false, updatedBy: 'carol', version: 2 },
    });
    // Loosening the apply mode and turning go-live on are change requests: carol cannot apply them alone.
    const mode = await wardenCli(['apply-mode', 'testnet', '--reason', 'paper week']);
    expect(mode.code).toBe(0);
    expect(mode.stdout).toMatch(/^pending approval: change request cr-[0-9a-f]{12} needs owner or manager \+ /);
    expect(mode.stdout).toContain('apply mode:   dry_run');
    const goLive = await wardenCli(['go-live', 'on', '--json']);
    expect(goLive.code).toBe(0);
    const goLiveRequest = JSON.parse(goLive.stdout) as { changeRequestId: string; status: string };
    expect(goLiveRequest.status).toBe('pending');
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 2, goLiveEnabled: false, applyMode: 'dry_run' });
    // Two others approve each; then both apply.
    const dave = api.cli(await api.key('dave', ['manager']), { DATABASE_URL: t.url });
    const erin = api.cli(await api.key('erin', ['risk_officer']), { DATABASE_URL: t.url });
    const modeRequest = /(cr-[0-9a-f]{12})/.exec(mode.stdout)![1]!;
    for (const id of [modeRequest, goLiveRequest.changeRequestId]) {
      expect((await dave(['change', 'approve', id, '--role', 'manager'])).code).toBe(0);
      expect((await erin(['change', 'approve', id, '--role', 'risk_officer'])).code).toBe(0);
    }
    const armed = await warden.waitForControlPlane(4);
    expect(armed).toMatchObject({ goLiveEnabled: true, applyMode: 'testnet', killSwitchEngaged: false });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 4, goLiveEnabled: true, applyMode: 'testnet' });
  });

  it('checkControlPlane reads the persisted state: an engaged kill switch stops PROD_EXEC at once', async () => {
    const { checkControlPlane } = createControlPlaneActivities({ db: t.db });
    await armControlPlane(t.db, warden, { goLive: true, actor: 'carol' });
    const ready = await warden.waitForControlPlane((await readControlPlaneState(t.db)).version + 1);
    expect(await checkControlPlane({ executionClass: 'PROD_EXEC' })).toMatchObject({
      allowed: true,
      applyMode: ready.applyMode,
    });
    await warden.engageKillSwitch({ source: 'tripwire', actor: 'tripwire', reason: 'roi drop' });
    await warden.waitForControlPlane(ready.version + 1);
    expect(await checkControlPlane({ executionClass: 'PROD_EXEC' })).toMatchObject({
      allowed: false,
      reason: 'kill_switch_engaged',
    });
    expect(await checkControlPlane({ executionClass: 'SANDBOX_EXEC' })).toMatchObject({ allowed: true });
  });

  it('`warden audit verify` passes on the clean log and names the event altered behind the trigger', async () => {
    const clean = await wardenCli(['audit', 'verify']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^audit chain intact: \d+ event\(s\)/);

    const [victim] = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_released' });
    await sql`alter table audit_event disable trigger audit_event_no_update_delete`.execute(t.superuser);
    await sql`update audit_event set actor = 'mallory' where id = ${victim!.id}`.execute(t.superuser);
    await sql`alter table audit_event enable trigger audit_event_no_update_delete`.execute(t.superuser);

    const broken = await wardenCli(['audit', 'verify', '--json']);
    expect(broken.code).toBe(3);
    expect(JSON.parse(broken.stdout)).toMatchObject({
      ok: false,
      brokenAt: { id: victim!.id, kind: 'control_plane.kill_switch_released' },
    });
    const text = await wardenCli(['audit', 'verify']);
    expect(text.stdout).toContain(`audit chain BROKEN at event ${victim!.id} (control_plane.kill_switch_released`);
  });

  it('a NUL byte or a 1 MB field to every signal cannot jam the queue: an engage right after takes effect in seconds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-jam-'));
    const nul = 'jam\u0000';
    const huge = 'x'.repeat(1_000_000);
    const payloads = (text: string): Record<string, object> => ({
      setGoLive: { enabled: true, actor: text, reason: text },
      engageKillSwitch: { source: 'operator', actor: text, reason: text },
      releaseKillSwitch: { actor: text, role: 'risk_officer', reason: text },
      declineKillSwitchRelease: { actor: text, role: 'manager', reason: text },
      setApplyMode: { mode: 'live', actor: text, reason: text },
      restrictEngine: { engine: 'WHOLESALE', restriction: 'pause', source: 'operator', actor: text, reason: text },
      refreshCapitalBand: { actor: text },
      clearEngineRestriction: { engine: 'WHOLESALE', actor: text, reason: text },
    });
    const handle = client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID);
    const before = await warden.controlPlaneState();
    try {
      const sends: Promise<unknown>[] = [];
      for (const [name, payload] of Object.entries(payloads(nul))) {
        sends.push(
          temporal(
            'workflow',
            'signal',
            '--workflow-id',
            CONTROL_PLANE_WORKFLOW_ID,
            '--name',
            name,
            '--input',
            JSON.stringify(payload),
          ),
        );
      }
      for (const [name, payload] of Object.entries(payloads(huge))) {
        // 1 MB does not fit an argument: the CLI reads it from a file.
        const file = path.join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(payload));
        sends.push(
          temporal(
            'workflow',
            'signal',
            '--workflow-id',
            CONTROL_PLANE_WORKFLOW_ID,
            '--name',
            name,
            '--input-file',
            file,
          ),
        );
      }
      expect(await Promise.all(sends)).toEqual(sends.map(() => expect.objectContaining({ code: 0 })));
      const engage = await temporal(
        'workflow',
        'signal',
        '--workflow-id',
        CONTROL_PLANE_WORKFLOW_ID,
        '--name',
        'engageKillSwitch',
        '--input',
        JSON.stringify({ source: 'operator', actor: 'dana', reason: 'after the jam attempt' }),
      );
      expect(engage.code).toBe(0);
      await expect
        .poll(async () => (await warden.controlPlaneState()).killSwitchEngagedBy, { timeout: 8_000, interval: 100 })
        .toBe('dana');
      // The rest drains too: every bad payload refused and audited, the two malformed engages engaged.
      const view = await warden.waitForControlPlane(0, 30_000);
      expect(view).toMatchObject({
        killSwitchEngaged: true,
        goLiveEnabled: before.goLiveEnabled,
        applyMode: before.applyMode,
      });
      expect(view.rejectedSignals - before.rejectedSignals).toBe(14);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes != null)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const engaged = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' });
    expect(engaged.map((e) => e.actor)).toEqual(
      expect.arrayContaining([
        'dana',
        'malformed actor: jam\\u0000',
        expect.stringMatching(/^malformed actor: x+…\[truncated, 1000000 characters\]$/),
      ]),
    );
    expect(await readControlPlaneState(t.db)).toMatchObject({ killSwitchEngaged: true });
  });

  it('`warden restrictions` throttles and clears through the control plane, restoring a policy disabled before', async () => {
    await t.db.updateTable('risk_policy').set({ enabled: false }).where('engine', '=', 'CAPITAL').execute();
    const add = await wardenCli(['restrictions', 'add', 'throttle', 'CAPITAL', '--reason', 'maintenance', '--json']);
    expect(add.code).toBe(0);
    const [restricted] = await listAuditEvents(t.db, { kind: 'control_plane.engine_restricted' });
    expect(restricted).toMatchObject({
      actor: 'carol',
      details: { change: { engine: 'CAPITAL', source: 'operator:carol' } },
    });
    const [row] = await t.db.selectFrom('engine_restriction').selectAll().where('engine', '=', 'CAPITAL').execute();
    // Lifting it loosens: a change request carol cannot approve herself; dave, a manager, does.
    const clear = await wardenCli(['restrictions', 'clear', String(row!.id), '--reason', 'maintenance over']);
    expect(clear).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pending approval: change request /) });
    expect(await listAuditEvents(t.db, { kind: 'control_plane.engine_restriction_cleared' })).toEqual([]);
    const id = /(cr-[0-9a-f]{12})/.exec(clear.stdout)![1]!;
    const dave = api.cli(await api.key('dave-2', ['manager']), { DATABASE_URL: t.url });
    expect((await dave(['change', 'approve', id, '--role', 'manager'])).code).toBe(0);
    const cleared = await waitFor(
      'the restriction cleared',
      async () => (await listAuditEvents(t.db, { kind: 'control_plane.engine_restriction_cleared' }))[0],
    );
    expect(cleared.details).toMatchObject({ authority: { changeRequestId: id } });
    expect(
      await t.db.selectFrom('risk_policy').select('enabled').where('engine', '=', 'CAPITAL').executeTakeFirst(),
    ).toEqual({
      enabled: false,
    });
  });

  it('raw `temporal workflow signal` loosening signals count only with an approved change request naming them', async () => {
    const signal = async (name: string, payload: object) =>
      expect(
        await temporal(
          'workflow',
          'signal',
          '--workflow-id',
          CONTROL_PLANE_WORKFLOW_ID,
          '--name',
          name,
          '--input',
          JSON.stringify(payload),
        ),
      ).toMatchObject({ code: 0 });
    const refusedSoFar = async () => (await listAuditEvents(t.db, { kind: 'control_plane.change_refused' })).length;
    const refusedBefore = await refusedSoFar();
    // Tightening needs nobody: go-live off, dry_run and a pause apply for anyone.
    await signal('setGoLive', { enabled: false, actor: 'mallory', reason: 'tighten' });
    await signal('setApplyMode', { mode: 'dry_run', actor: 'mallory' });
    await signal('restrictEngine', {
      engine: 'WHOLESALE',
      restriction: 'pause',
      source: 'operator',
      actor: 'mallory',
      reason: 'tighten',
    });
    await markGoLivePlaybookCompleted(t.db);
    const pending = await recordedChangeRequest(
      t.db,
      [{ kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'testnet' }],
      'pending',
    );
    // Loosening alone: without a request, with a forged one, with one nobody approved.
    await signal('setGoLive', { enabled: true, actor: 'mallory', reason: 'yolo' });
    await signal('setApplyMode', { mode: 'live', actor: 'mallory', changeRequestId: 'cr-forged000000' });
    await signal('setApplyMode', { mode: 'testnet', actor: 'mallory', changeRequestId: pending });
    await signal('clearEngineRestriction', {
      engine: 'WHOLESALE',
      restriction: 'pause',
      actor: 'mallory',
      reason: 'x',
    });
    await expect.poll(refusedSoFar, { timeout: 15_000 }).toBe(refusedBefore + 4);
    const reasons = (await listAuditEvents(t.db, { kind: 'control_plane.change_refused', limit: 4 }))
      .map((e) => (e.details as { outcome: { reason: string } }).outcome.reason)
      .reverse();
    expect(reasons).toEqual([
      expect.stringMatching(/^changeRequestId: go-live on is a change request: open one with `warden go-live on`/),
      'changeRequestId: Warden holds no change request cr-forged000000',
      `changeRequestId: change request ${pending} is pending, not approved`,
      expect.stringMatching(/^changeRequestId: lifting a restriction is a change request/),
    ]);
    expect(await readControlPlaneState(t.db)).toMatchObject({ goLiveEnabled: false, applyMode: 'dry_run' });
    const paused = () =>
      t.db
        .selectFrom('engine_restriction')
        .select('id')
        .where('engine', '=', 'WHOLESALE')
        .where('cleared_at', 'is', null)
        .execute();
    expect(await paused()).toHaveLength(1);

    // The same signals applying an approved request: they count.
    const approved = await recordedChangeRequest(t.db, [
      { kind: 'control_plane', target: 'goLive', before: false, after: true },
      { kind: 'restriction', target: 'WHOLESALE', before: { engine: 'WHOLESALE', restriction: 'pause' }, after: null },
    ]);
    await signal('setGoLive', { enabled: true, actor: 'policy-change', changeRequestId: approved });
    await signal('clearEngineRestriction', {
      engine: 'WHOLESALE',
      restriction: 'pause',
      actor: 'policy-change',
      reason: 'approved',
      changeRequestId: approved,
    });
    await expect.poll(async () => (await readControlPlaneState(t.db)).goLiveEnabled, { timeout: 15_000 }).toBe(true);
    await expect.poll(async () => (await paused()).length, { timeout: 15_000 }).toBe(0);
    expect(await refusedSoFar()).toBe(refusedBefore + 4);
  });
});
