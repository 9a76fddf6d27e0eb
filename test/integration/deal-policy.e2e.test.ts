import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { listAuditEvents } from '../../src/db/audit.repository';
import { toolPaths } from '../../src/config/paths';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import type { DealResult, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { dealWorkflowId } from '../../workflows/names';
import { type CliApi, exec, type Ran, serveCliApi } from '../support/processes';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

// Issue 13 items 2 and 9 from the outside: deals started with the raw
// `temporal` CLI (no typed client), policies and positions set with `warden`,
// and a Warden worker wired as production wires it — no simulated executors.
describe('deal policy end to end: raw temporal CLI, the warden CLI, a production-wired worker', () => {
  let t: TestDatabase;
  let client: Client;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('warden-policy');
  const producerQueue = uniqueName('producer');
  const address = devServerAddress();
  const executeDeal = vi.fn(async (input: ExecuteDealInput): Promise<ExecuteDealResult> => ({
    realizedLoss: 0,
    externalId: `fill-${input.dealId}`,
  }));
  // The gates read the control plane's persisted state; nothing here needs its workflow.
  const port = new Proxy(
    {},
    { get: (_, name) => (name === 'then' ? undefined : async () => undefined) },
  ) as ControlPlanePort;
  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;
  /** `temporal workflow start`, as anyone with access to the namespace could; answers the deal's result. */
  const startRaw = async (input: Record<string, unknown>): Promise<DealResult> => {
    const dealId = uniqueName('raw');
    const ran = await exec(toolPaths.temporal, [
      'workflow',
      'start',
      '--address',
      address,
      '--type',
      'dealExecution',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      dealWorkflowId(dealId),
      '--input',
      JSON.stringify({ dealId, symbol: 'BTCUSDT', amount: 10, requestedBy: 'raw-cli', ...input }),
    ]);
    expect(ran, ran.stderr).toMatchObject({ code: 0 });
    return client.workflow.getHandle(dealWorkflowId(dealId)).result() as Promise<DealResult>;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    client = new Client({ connection: await Connection.connect({ address }) });
    workers.push(
      // As workers/main.ts wires it without WARDEN_SIMULATED_EXECUTORS: no executor on Warden's queue.
      await runDevServerWorker({
        taskQueue,
        activities: createActivities({
          db: t.db,
          governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 100, maxPerHour: 100 },
          controlPlane: port,
        }),
      }),
      await runDevServerWorker({ taskQueue: producerQueue, activities: { executeDeal }, workflows: false }),
    );
    // `warden` as ops, a risk officer: what an action is and where a position stands are the risk owners' to say.
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['risk_officer']), { DATABASE_URL: t.url });
  });
  afterAll(async () => {
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await client?.connection.close();
    await t?.drop();
  });

  it('a deal without an executor queue on a production worker is denied no_executor, reserving nothing', async () => {
    expect(await startRaw({ engine: 'WHOLESALE' })).toMatchObject({
      status: 'denied',
      gate: 'policy',
      reason: 'no_executor',
    });
    expect(await t.db.selectFrom('risk_reservation').selectAll().execute()).toEqual([]);
    expect(await t.db.selectFrom('execution_permit').selectAll().execute()).toEqual([]);
  });

  it('an engine made SANDBOX_EXEC with `warden engine-policies set` runs a PROD_EXEC claim in testnet, and its position is kept', async () => {
    const set = await cli(['engine-policies', 'set', 'CAPITAL', '--class', 'SANDBOX_EXEC', '--reason', 'lab only']);
    expect(set, set.stderr).toMatchObject({ code: 0 });

    const result = await startRaw({
      engine: 'CAPITAL',
      executionClass: 'PROD_EXEC',
      side: 'sell',
      executorTaskQueue: producerQueue,
    });
    expect(result).toMatchObject({ status: 'executed', applyMode: 'testnet' });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(executeDeal).toHaveBeenCalledWith(
      expect.objectContaining({ applyMode: 'testnet', executionClass: 'SANDBOX_EXEC' }),
    );
    const positions = JSON.parse((await cli(['positions', 'list', '--engine', 'CAPITAL', '--json'])).stdout);
    expect(positions).toEqual([expect.objectContaining({ scope: 'engine', scopeId: 'CAPITAL', quantity: -10 })]);

    const reconciled = await cli([
      'positions',
      'set',
      '--engine',
      'CAPITAL',
      '--symbol',
      'BTCUSDT',
      '--quantity',
      '0',
      '--reason',
      'matched the exchange statement',
    ]);
    expect(reconciled, reconciled.stderr).toMatchObject({ code: 0 });
    expect(await listAuditEvents(t.db, { kind: 'execution_policy.set' })).toEqual([
      expect.objectContaining({ actor: 'ops', subject: 'engine:CAPITAL' }),
    ]);
    expect(await listAuditEvents(t.db, { kind: 'position.reconciled' })).toEqual([
      expect.objectContaining({
        actor: 'ops',
        subject: 'position:engine:CAPITAL:BTCUSDT',
        details: expect.objectContaining({ before: -10, after: 0 }),
      }),
    ]);
    // Bad input names the field and changes nothing.
    const bad = await cli(['engine-policies', 'set', 'CAPITAL', '--class', 'LIVE', '--reason', 'x']);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--class') });
  });
});
