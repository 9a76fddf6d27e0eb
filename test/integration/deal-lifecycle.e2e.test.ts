import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { toolPaths } from '../../src/config/paths';
import type { DealInput, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { applyReservationSweepSchedule, RESERVATION_SWEEP_SCHEDULE_ID } from '../../src/temporal/schedules';
import { dealWorkflowPort } from '../../workers/wire';
import { type CliApi, type Ran, serveCliApi } from '../support/processes';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

const run = promisify(execFile);

// Issue 13 items 4–6 on the real dev server, driven with the raw `temporal`
// CLI: a timed-out executor keeps the money reserved until reconcileDeal, a
// reset run never executes again, the scheduled sweep and `warden deals orphans`.
describe('a deal’s lifecycle end to end (dev server, raw temporal CLI)', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('lifecycle-e2e');
  const producerQueue = uniqueName('producer');
  const address = devServerAddress();
  const prefix = uniqueName('lc');
  const id = (name: string) => `${prefix}-${name}`;
  let hang: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (hang = resolve));
  // The producer's executor records each call; "slow" deals then outlive the executor timeout.
  const executeDeal = vi.fn(async (input: ExecuteDealInput): Promise<ExecuteDealResult> => {
    if (input.dealId.endsWith('-slow')) await hung;
    return { realizedLoss: 0, externalId: `fill-${input.dealId}` };
  });
  const temporal = (args: string[]) => run(toolPaths.temporal, [...args, '--address', address]);
  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;
  const deal = (name: string): DealInput => ({
    dealId: id(name),
    engine: 'WHOLESALE',
    symbol: 'XRPUSDT',
    amount: 50,
    requestedBy: 'bot-9',
    executorTaskQueue: producerQueue,
  });
  const reservation = async (name: string) =>
    (
      await t.db
        .selectFrom('risk_reservation')
        .select('status')
        .where('idempotency_key', '=', `deal:${id(name)}`)
        .executeTakeFirst()
    )?.status;
  const stage = async (name: string) => (await warden.dealProgress(id(name))).stage;

  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    client = new Client({ connection: await Connection.connect({ address }) });
    warden = new WardenClient(client, taskQueue);
    workers.push(
      await runDevServerWorker({
        taskQueue,
        activities: createActivities({
          db: t.db,
          governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 20, maxPerHour: 20, executorTimeoutSeconds: 2 },
          controlPlane: warden,
          dealWorkflows: dealWorkflowPort(client),
        }),
      }),
      await runDevServerWorker({ taskQueue: producerQueue, activities: { executeDeal }, workflows: false }),
    );
    // `warden` as ops, a risk officer: reconciling a deal is an approver's or the risk officer's word.
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['risk_officer']), { DATABASE_URL: t.url });
  });

  afterAll(async () => {
    hang();
    await api?.close();
    await client?.schedule
      .getHandle(RESERVATION_SWEEP_SCHEDULE_ID)
      .delete()
      .catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop()));
    await client?.connection.close();
    await t?.drop();
  });

  it('an executor that times out after recording the call holds the reservation until `temporal workflow update execute --name reconcileDeal`', async () => {
    const handle = await warden.startDeal(deal('slow'));
    await expect.poll(() => stage('slow'), { timeout: 15_000 }).toBe('awaiting_reconciliation');
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(await reservation('slow')).toBe('reserved');
    expect((await warden.dealProgress(id('slow'))).result).toMatchObject({
      status: 'needs_reconciliation',
      cause: 'attempt 1: START_TO_CLOSE timeout',
    });
    // A malformed word is refused by the validator, naming the field, and changes nothing.
    const bad = await temporal([
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      `deal-${id('slow')}`,
      '--name',
      'reconcileDeal',
      '--input',
      JSON.stringify({ executed: 'maybe', actor: 'ops', reason: 'x' }),
    ]).catch((e: { stderr?: string }) => e);
    expect(String((bad as { stderr?: string }).stderr)).toContain('executed');
    expect(await reservation('slow')).toBe('reserved');
    const { stdout } = await temporal([
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      `deal-${id('slow')}`,
      '--name',
      'reconcileDeal',
      '--input',
      JSON.stringify({
        executed: true,
        realizedLoss: 4,
        actor: 'risk-officer',
        reason: 'fill confirmed by the exchange',
      }),
      '-o',
      'json',
    ]);
    expect(stdout).toContain('"status": "executed"');
    expect(await handle.result()).toMatchObject({ status: 'executed', realizedLoss: 4, applyMode: 'live' });
    expect(await reservation('slow')).toBe('settled');
    const [reconciled] = await listAuditEvents(t.db, { kind: 'deal.reconciled', subject: `deal:${id('slow')}` });
    expect(reconciled).toMatchObject({ actor: 'risk-officer', details: { executed: true, realizedLoss: 4 } });
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'deal-execution-reconciled-executed.json'),
        historyToJSON(await handle.fetchHistory()),
      );
  });

  it('a reset never executes a deal again: an executed one answers its result, an ambiguous one waits again', async () => {
    const first = await warden.executeDeal(deal('reset-done'));
    expect(first).toMatchObject({ status: 'executed' });
    await temporal([
      'workflow',
      'reset',
      '--workflow-id',
      `deal-${id('reset-done')}`,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'e2e',
    ]);
    expect(await warden.getDealResult(id('reset-done'))).toEqual(first);
    expect(executeDeal.mock.calls.filter(([i]) => i.dealId === id('reset-done'))).toHaveLength(1);

    await warden.startDeal(deal('reset-slow'));
    await expect.poll(() => stage('reset-slow'), { timeout: 15_000 }).toBe('awaiting_reconciliation');
    await temporal([
      'workflow',
      'reset',
      '--workflow-id',
      `deal-${id('reset-slow')}`,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'e2e',
    ]);
    await expect.poll(() => stage('reset-slow'), { timeout: 15_000 }).toBe('awaiting_reconciliation');
    expect(executeDeal.mock.calls.filter(([i]) => i.dealId === id('reset-slow'))).toHaveLength(1);
    expect(await reservation('reset-slow')).toBe('reserved');
    const released = await cli([
      'deal',
      'reconcile',
      id('reset-slow'),
      '--executed',
      'false',
      '--reason',
      'no fill',
      '--json',
    ]);
    expect(released.code).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({ status: 'failed', compensated: true });
    expect(await reservation('reset-slow')).toBe('released');
  });

  it('`temporal schedule trigger` runs the sweep: a terminated deal is flagged, listed by `warden deals orphans`', async () => {
    await warden.startDeal(deal('term-slow'));
    await expect.poll(() => stage('term-slow'), { timeout: 15_000 }).toBe('execute');
    await client.workflow.getHandle(`deal-${id('term-slow')}`).terminate('worker host lost');
    const orphans = await cli(['deals', 'orphans', '--json']);
    expect(orphans.code).toBe(0);
    expect(JSON.parse(orphans.stdout)).toContainEqual(
      expect.objectContaining({ dealId: id('term-slow'), workflow: 'closed', action: 'flag', reservation: 'reserved' }),
    );
    expect(await applyReservationSweepSchedule(client, { taskQueue, every: '1h' })).toBe('created');
    expect(await applyReservationSweepSchedule(client, { taskQueue, every: '1h' })).toBe('updated');
    await temporal(['schedule', 'trigger', '--schedule-id', RESERVATION_SWEEP_SCHEDULE_ID]);
    await expect
      .poll(async () => (await listAuditEvents(t.db, { kind: 'deal.orphan_flagged' })).map((e) => e.subject), {
        timeout: 15_000,
      })
      .toContain(`deal:${id('term-slow')}`);
    expect(await reservation('term-slow')).toBe('reserved');
  });
});
