import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readPlaybook } from '../../src/db/go-live.repository';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID, operatorSessionWorkflowId } from '../../workflows/names';
import { PLAYBOOK } from '../../src/domain/go-live/playbook';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import type { Role } from '../../src/domain/identity/roles';
import { type CliApi, exec, serveCliApi } from '../support/processes';
import { recordedChangeRequest } from '../support/change-requests';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

// A namespace of its own: this file runs the singleton control plane and the default playbook id.
const namespace = 'warden-go-live-e2e';

describe('go-live playbook and operator sessions end to end', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: RunningWorker | undefined;
  const taskQueue = uniqueName('go-live-e2e');
  const address = devServerAddress();
  const temporal = (...args: string[]) =>
    exec(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
  let api: CliApi;
  // `warden` as each person, with a key of their own: mona also holds an approver role (manager).
  const roles: Record<string, Role[]> = {
    olga: ['operator'],
    mona: ['operator', 'manager'],
    'night-owl': ['operator'],
  };
  const keys = new Map<string, Promise<string>>();
  const wardenCli = async (args: string[], as = 'olga') => {
    if (!keys.has(as)) keys.set(as, api.key(as, roles[as]!));
    return api.cli(await keys.get(as)!, { DATABASE_URL: t.url })(args);
  };

  const startWorker = async () => {
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden }),
    });
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    await startWorker();
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
    api = await serveCliApi({ db: t.db, client, taskQueue });
  });

  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await client?.connection.close();
    await t?.drop();
  });

  it('go-live is refused until the playbook completes; steps are done with `warden` and the raw `temporal` CLI', async () => {
    const before = await warden.changeControlPlane({
      kind: 'setGoLive',
      enabled: true,
      actor: 'olga',
      reason: 'launch',
    });
    expect(before).toMatchObject({ outcome: { status: 'refused' }, state: { goLiveEnabled: false } });

    expect(await wardenCli(['playbook', 'start'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`go-live playbook ${GO_LIVE_PLAYBOOK_WORKFLOW_ID} started by olga`),
    });
    expect(
      await wardenCli(['playbook', 'step', 'preflight', '--evidence', 'warden migrate: nothing pending']),
    ).toMatchObject({ code: 0, stdout: expect.stringContaining('1/9 done, next: risk_policies_reviewed') });
    expect(await wardenCli(['playbook', 'step', 'kill_switch_drill', '--evidence', 'drilled'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "step: 'kill_switch_drill' is out of order; the next step is 'risk_policies_reviewed'",
      ),
    });

    const update = await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      GO_LIVE_PLAYBOOK_WORKFLOW_ID,
      '--name',
      'completePlaybookStep',
      '--input',
      JSON.stringify({
        step: 'risk_policies_reviewed',
        actor: 'dana',
        evidence: 'GLOBAL cap 1500 reviewed with finance',
      }),
    );
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(/accepted/);
    const badUpdate = await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      GO_LIVE_PLAYBOOK_WORKFLOW_ID,
      '--name',
      'completePlaybookStep',
      '--input',
      JSON.stringify({ step: 'prod_gates_reviewed', actor: 'dana' }),
    );
    expect(badUpdate.code).not.toBe(0);
    expect(`${badUpdate.stdout}${badUpdate.stderr}`).toMatch(/evidence: /);

    for (const step of PLAYBOOK.slice(2, 8)) {
      expect(await wardenCli(['playbook', 'step', step.id, '--evidence', `done: ${step.title}`])).toMatchObject({
        code: 0,
      });
    }
    expect(
      await wardenCli(['playbook', 'step', 'sign_off', '--evidence', 'CHG-1042', '--role', 'operator'], 'mona'),
    ).toMatchObject({ code: 2, stderr: expect.stringContaining('role: sign_off must be done in an approver role') });
    expect(
      await wardenCli(['playbook', 'step', 'sign_off', '--evidence', 'CHG-1042', '--role', 'manager'], 'mona'),
    ).toMatchObject({ code: 0, stdout: expect.stringContaining('COMPLETED, 9/9 done') });

    const status = await wardenCli(['playbook', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      status: 'completed',
      done: PLAYBOOK.map((s) => ({ step: s.id })),
    });
    expect(await readPlaybook(t.db, GO_LIVE_PLAYBOOK_WORKFLOW_ID)).toMatchObject({
      status: 'completed',
      steps: expect.arrayContaining([expect.objectContaining({ step: 'risk_policies_reviewed', actor: 'dana' })]),
    });
    expect((await listAuditEvents(t.db, { kind: 'go_live.playbook_completed' }))[0]).toMatchObject({ actor: 'mona' });

    // Go-live on is loosening: it applies an approved change request.
    const changeRequestId = await recordedChangeRequest(t.db, [
      { kind: 'control_plane', target: 'goLive', before: false, after: true },
    ]);
    const after = await warden.changeControlPlane({
      kind: 'setGoLive',
      enabled: true,
      actor: 'mona',
      reason: 'playbook signed off',
      changeRequestId,
    });
    expect(after).toMatchObject({ outcome: { status: 'applied' }, state: { goLiveEnabled: true } });
  });

  it('an operator session survives a worker restart, and both snapshots are stored', async () => {
    const started = await wardenCli(['session', 'start', '--notes', 'night shift', '--json'], 'night-owl');
    expect(started.code).toBe(0);
    const session = JSON.parse(started.stdout) as { sessionId: string };
    expect(await wardenCli(['session', 'start'], 'night-owl')).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('night-owl already has an active session'),
    });

    await worker!.stop();
    worker = undefined;
    expect(
      await t.db
        .selectFrom('operator_session')
        .select(['status', 'end_snapshot'])
        .where('id', '=', session.sessionId)
        .executeTakeFirst(),
    ).toEqual({ status: 'active', end_snapshot: null });
    await startWorker();

    const ended = await wardenCli(['session', 'end', '--notes', 'quiet night, handed over'], 'night-owl');
    expect(ended).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`session ${session.sessionId} of night-owl: ENDED`),
    });
    const row = await t.db
      .selectFrom('operator_session')
      .selectAll()
      .where('id', '=', session.sessionId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      operator: 'night-owl',
      status: 'ended',
      start_notes: 'night shift',
      end_notes: 'quiet night, handed over',
    });
    expect(row.start_snapshot).toMatchObject({
      controlPlane: { goLiveEnabled: true },
      band: { band: 'A' },
      playbook: { id: GO_LIVE_PLAYBOOK_WORKFLOW_ID, status: 'completed', steps: 9 },
    });
    expect(row.end_snapshot).toMatchObject({
      controlPlane: { goLiveEnabled: true },
      health: { status: expect.any(String) },
    });
    expect(row.ended_at!.getTime()).toBeGreaterThan(row.started_at.getTime());

    const history =
      (await client.workflow.getHandle(operatorSessionWorkflowId('night-owl')).fetchHistory()).events ?? [];
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes != null)).toEqual([]);
    const list = await wardenCli(['session', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject([{ sessionId: session.sessionId, status: 'ended' }]);
    expect(JSON.parse((await wardenCli(['session', 'list', '--active', '--json'])).stdout)).toEqual([]);
  });
});
