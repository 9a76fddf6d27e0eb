import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { addApprover } from '../../src/db/autonomy.repository';
import { setCommandPolicy } from '../../src/db/command-policies.repository';
import type { CommandExecutor } from '../../src/domain/autonomy/activities';
import type { CommandResult } from '../../src/domain/autonomy/commands';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import { commandStatusQuery } from '../../workflows/messages';
import { commandWorkflowId, CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import { type CliApi, exec, type Ran, serveCliApi } from '../support/processes';
import { armControlPlane } from '../support/change-requests';
import {
  createTestDatabase,
  devServerAddress,
  markGoLivePlaybookCompleted,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

const namespace = 'warden-commands-e2e';

// Issue 13, item 1: commands are governed actions, whoever starts them and however. Commands are
// started and approved with the raw `temporal` CLI; the producer's recording executor serves its own
// task queue; Warden's queue serves none. The tests share the control plane's state, in order.
describe('governed commands end to end', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('warden-commands');
  const producerQueue = uniqueName('machine');
  const address = devServerAddress();
  const executeCommand = vi.fn<CommandExecutor['executeCommand']>(async () => ({}));
  const temporal = async (...args: string[]) => {
    const ran = await exec(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
    expect(ran, ran.stderr).toMatchObject({ code: 0 });
    return ran;
  };
  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;

  /** `temporal workflow start`, as anyone with access to the namespace could. */
  const startRaw = async (
    commandType: string,
    extra: Record<string, unknown> = { executorTaskQueue: producerQueue },
  ) => {
    const commandId = uniqueName('cmd');
    await temporal(
      'workflow',
      'start',
      '--type',
      'commandExecution',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      commandWorkflowId(commandId),
      '--input',
      JSON.stringify({ commandId, commandType, params: { rpm: 1200 }, requestedBy: 'roaster-agent', ...extra }),
    );
    return client.workflow.getHandle(commandWorkflowId(commandId));
  };
  const result = (handle: { result(): Promise<unknown> }) => handle.result() as Promise<CommandResult>;
  const waiting = (handle: ReturnType<typeof client.workflow.getHandle>) =>
    expect
      .poll(async () => (await handle.query(commandStatusQuery)).stage, { timeout: 15_000 })
      .toBe('awaiting_approval');
  const signal = (workflowId: string, name: string, payload: object) =>
    temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', name, '--input', JSON.stringify(payload));

  beforeAll(async () => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    await addApprover(t.db, 'tech_lead', 'alice', 'setup');
    // L3+: SET_POWER and SET_FAN run on their own; SET_DRUM waits for a human.
    await t.db.updateTable('governance_state').set({ current_phase: 'L3+' }).execute();
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    workers.push(
      await runDevServerWorker({
        namespace,
        taskQueue,
        activities: createActivities({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden }),
      }),
      // The machine's own worker: only its executor, on its own task queue.
      await runDevServerWorker({
        namespace,
        taskQueue: producerQueue,
        activities: { executeCommand },
        workflows: false,
      }),
    );
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
    // `warden` as risk-owner, a risk officer: what a command type is is the risk owners' to say.
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('risk-owner', ['risk_officer']), { DATABASE_URL: t.url });
  });

  afterAll(async () => {
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await client?.connection.close();
    await t?.drop();
  });

  it('go-live off (the safe default): a whitelisted and a human-held command are denied at the start', async () => {
    expect(await result(await startRaw('SET_FAN'))).toMatchObject({
      status: 'denied',
      gate: 'control_plane',
      reason: 'go_live_disabled',
    });
    expect(await result(await startRaw('SET_DRUM'))).toMatchObject({ status: 'denied', reason: 'go_live_disabled' });
    expect(executeCommand).not.toHaveBeenCalled();
  });

  it('apply mode dry_run: a command approved with `temporal workflow signal`, and a whitelisted one, execute nothing', async () => {
    await armControlPlane(t.db, warden, { goLive: true, reason: 'e2e' });
    await warden.waitForControlPlane(1);
    const held = await startRaw('SET_DRUM');
    await waiting(held);
    await signal(held.workflowId, 'approveCommand', { approver: 'alice', role: 'tech_lead', comment: 'ok' });
    expect(await result(held)).toMatchObject({ status: 'dry_run', autonomous: false, applyMode: 'dry_run' });
    expect(await result(await startRaw('SET_FAN'))).toMatchObject({ status: 'dry_run', autonomous: true });
    expect(executeCommand).not.toHaveBeenCalled();
  });

  it('live: a command runs on the machine; a kill switch engaged with the raw CLI while one waits stops it before the executor', async () => {
    await armControlPlane(t.db, warden, { applyMode: 'live', reason: 'e2e' });
    await warden.waitForControlPlane(2);
    expect(await result(await startRaw('SET_FAN'))).toMatchObject({ status: 'succeeded', applyMode: 'live' });
    expect(executeCommand).toHaveBeenCalledTimes(1);
    expect(executeCommand.mock.calls[0]![0]).toMatchObject({ executionClass: 'PROD_EXEC', applyMode: 'live' });

    const held = await startRaw('SET_DRUM');
    await waiting(held);
    await signal(CONTROL_PLANE_WORKFLOW_ID, 'engageKillSwitch', { source: 'operator', actor: 'ops', reason: 'drill' });
    await warden.waitForControlPlane(3);
    await signal(held.workflowId, 'approveCommand', { approver: 'alice', role: 'tech_lead' });
    expect(await result(held)).toMatchObject({
      status: 'denied',
      gate: 'control_plane',
      reason: 'kill_switch_engaged',
      autonomous: false,
    });
    expect(await result(await startRaw('SET_FAN'))).toMatchObject({ status: 'denied', reason: 'kill_switch_engaged' });
    expect(executeCommand).toHaveBeenCalledTimes(1);
  });

  it('command policies set with the warden CLI: SANDBOX_EXEC runs in testnet under the kill switch, OBSERVE_ONLY never executes', async () => {
    expect(
      await cli(['command-policies', 'set', 'SET_FAN', '--class', 'SANDBOX_EXEC', '--reason', 'sandbox rig']),
    ).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once \(it only tightens\)/) });
    await setCommandPolicy(t.db, {
      commandType: 'SET_POWER',
      executionClass: 'OBSERVE_ONLY',
      actor: 'risk-owner',
      reason: 'sensor only',
    });
    const listed = JSON.parse((await cli(['command-policies', 'list', '--json'])).stdout);
    expect(listed).toMatchObject([
      { commandType: 'SET_FAN', executionClass: 'SANDBOX_EXEC', updatedBy: 'risk-owner' },
      { commandType: 'SET_POWER', executionClass: 'OBSERVE_ONLY' },
    ]);
    expect(await listAuditEvents(t.db, { kind: 'command_policy.set' })).toHaveLength(2);

    // The producer's payload cannot loosen the class.
    expect(
      await result(await startRaw('SET_FAN', { executorTaskQueue: producerQueue, executionClass: 'PROD_EXEC' })),
    ).toMatchObject({ status: 'succeeded', executionClass: 'SANDBOX_EXEC', applyMode: 'testnet' });
    expect(executeCommand.mock.calls[1]![0]).toMatchObject({ executionClass: 'SANDBOX_EXEC', applyMode: 'testnet' });
    expect(await result(await startRaw('SET_POWER'))).toMatchObject({
      status: 'dry_run',
      executionClass: 'OBSERVE_ONLY',
    });
    // No executor queue, and Warden's own serves none: nothing to run it on.
    expect(await result(await startRaw('SET_FAN', {}))).toMatchObject({
      status: 'denied',
      gate: 'executor',
      reason: 'no_executor',
    });
    expect(executeCommand).toHaveBeenCalledTimes(2);
  });
});
