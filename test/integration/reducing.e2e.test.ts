import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { toolPaths } from '../../src/config/paths';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import type { DealResult, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { dealProgressQuery } from '../../workflows/messages';
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

// Issue 17 from the outside: deals started with the raw `temporal` CLI against a production-wired worker
// and a recording executor of the producer's, positions and unknown outcomes read with `warden`. The
// control plane's transitions between halt and reduce are the control-plane workflow's tests; here the
// gates read its persisted state.
describe('halted, not frozen: reduce mode, positions and reconciliation end to end', () => {
  let t: TestDatabase;
  let client: Client;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('warden-reduce');
  const producerQueue = uniqueName('producer');
  const address = devServerAddress();
  const failedOnce = new Set<string>();
  /** The producer's executor: records each call; `flaky-` deals fail their first attempt, `lost-` ones lose the answer. */
  const executeDeal = vi.fn(async (input: ExecuteDealInput): Promise<ExecuteDealResult> => {
    if (input.dealId.startsWith('flaky-') && !failedOnce.has(input.dealId)) {
      failedOnce.add(input.dealId);
      throw new Error('exchange timed out before it took the order');
    }
    if (input.dealId.startsWith('lost-'))
      throw ApplicationFailure.nonRetryable('connection lost after the order was sent', 'ExchangeUnknown');
    return { realizedLoss: 0, externalId: `fill-${input.dealId}` };
  });
  const port = new Proxy(
    {},
    { get: (_, name) => (name === 'then' ? undefined : async () => undefined) },
  ) as ControlPlanePort;
  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;
  const calls = (dealId: string) => executeDeal.mock.calls.filter(([input]) => input.dealId === dealId).length;
  const start = async (dealId: string, side: 'buy' | 'sell', amount: number, symbol = 'ETHUSDT') => {
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
      JSON.stringify({
        dealId,
        engine: 'WHOLESALE',
        symbol,
        amount,
        side,
        requestedBy: 'desk-bot',
        executorTaskQueue: producerQueue,
      }),
    ]);
    expect(ran, ran.stderr).toMatchObject({ code: 0 });
    return client.workflow.getHandle(dealWorkflowId(dealId));
  };
  const deal = async (dealId: string, side: 'buy' | 'sell', amount: number, symbol?: string): Promise<DealResult> =>
    (await start(dealId, side, amount, symbol)).result() as Promise<DealResult>;
  const trading = (mode: 'halt' | 'reduce' | null) =>
    t.db
      .updateTable('control_plane_state')
      .set({
        kill_switch_engaged: mode !== null,
        kill_switch_mode: mode,
        kill_switch_source: mode === null ? null : 'operator',
        reason: mode === null ? null : 'desk halted',
      })
      .execute();
  const json = async (args: string[]) => {
    const ran = await cli([...args, '--json']);
    expect(ran, ran.stderr).toMatchObject({ code: 0 });
    return JSON.parse(ran.stdout) as unknown;
  };
  const position = async () =>
    ((await json(['positions', 'list', '--engine', 'WHOLESALE'])) as { symbol: string; quantity: number }[]).find(
      (p) => p.symbol === 'ETHUSDT',
    );

  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    client = new Client({ connection: await Connection.connect({ address }) });
    workers.push(
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
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['risk_officer']), { DATABASE_URL: t.url });
  });
  afterAll(async () => {
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await client?.connection.close();
    await t?.drop();
  });

  it('positions equal the executed deals after a run with retries, and an unknown outcome shows until reconciled', async () => {
    expect(await deal('flaky-open', 'buy', 100)).toMatchObject({ status: 'executed' });
    expect(calls('flaky-open')).toBe(2);
    // A lost answer: the deal waits, money reserved, until someone says what happened.
    const lost = await start('lost-add', 'buy', 20);
    await vi.waitFor(
      async () => expect(await lost.query(dealProgressQuery)).toMatchObject({ stage: 'awaiting_reconciliation' }),
      { timeout: 20_000, interval: 200 },
    );
    // The executor answered once: the position moved once, the lost order not at all.
    expect(await position()).toMatchObject({
      quantity: 100,
      changes: [expect.objectContaining({ source: 'deal', dealId: 'flaky-open', delta: 100 })],
    });
    expect(await json(['deals', 'reconcile'])).toEqual([
      expect.objectContaining({
        dealId: 'lost-add',
        engine: 'WHOLESALE',
        side: 'buy',
        reserved: 20,
        executorAttempts: 1,
      }),
    ]);
    const settled = await cli([
      'deals',
      'reconcile',
      'lost-add',
      '--executed',
      'true',
      '--reason',
      'the exchange statement shows the fill',
    ]);
    expect(settled, settled.stderr).toMatchObject({ code: 0 });
    expect(await lost.result()).toMatchObject({ status: 'executed' });
    expect(await json(['deals', 'reconcile'])).toEqual([]);
    expect(await position()).toMatchObject({ quantity: 120 });
  });

  it('in reduce mode an exit that halves the position executes; a flip and a new position are denied; halt denies all', async () => {
    await trading('reduce');
    const before = executeDeal.mock.calls.length;
    expect(await deal('exit-half', 'sell', 60)).toMatchObject({ status: 'executed', applyMode: 'live' });
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'deal-execution-exit-reducing.json'),
        historyToJSON(await client.workflow.getHandle(dealWorkflowId('exit-half')).fetchHistory()),
      );
    expect(calls('exit-half')).toBe(1);
    expect(await position()).toMatchObject({ quantity: 60, heldByExits: 0 });
    expect(await deal('exit-flip', 'sell', 61)).toMatchObject({
      status: 'denied',
      gate: 'control_plane',
      reason: 'reducing_only',
    });
    expect(await deal('new-position', 'buy', 5, 'SOLUSDT')).toMatchObject({
      status: 'denied',
      reason: 'reducing_only',
    });
    await trading('halt');
    expect(await deal('exit-halted', 'sell', 10)).toMatchObject({ status: 'denied', reason: 'kill_switch_engaged' });
    // Only the exit reached the executor; nothing denied holds a reservation.
    expect(executeDeal.mock.calls.length - before).toBe(1);
    const held = await t.db
      .selectFrom('risk_reservation')
      .select('idempotency_key')
      .where('status', '=', 'reserved')
      .execute();
    expect(held).toEqual([]);
    await trading(null);
  });
});
