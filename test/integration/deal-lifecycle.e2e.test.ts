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
import { dealReleasePort, dealWorkflowPort } from '../../workers/wire';
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
  /** A release is a change request: others than its requester (ops) approve it, each in one role. */
  const approveAs = async (name: string, role: 'risk_officer' | 'manager', changeRequestId: string) =>
    api.cli(await api.key(name, [role]), { DATABASE_URL: t.url })([
      'change',
      'approve',
      changeRequestId,
      '--role',
      role,
    ]);

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
          dealReleases: dealReleasePort(client, taskQueue),
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

  it("releasing a waiting deal is a change request: one person's word, raw or through the CLI, frees nothing until others approve", async () => {
    const handle = await warden.startDeal(deal('release-slow'));
    await expect.poll(() => stage('release-slow'), { timeout: 15_000 }).toBe('awaiting_reconciliation');
    const rawRelease = (extra: Record<string, string>) =>
      temporal([
        'workflow',
        'update',
        'execute',
        '--workflow-id',
        `deal-${id('release-slow')}`,
        '--name',
        'reconcileDeal',
        '--input',
        JSON.stringify({ executed: false, actor: 'ops', reason: 'no fill', ...extra }),
      ]).then(
        () => 'counted',
        (e: { stderr?: string }) => String(e.stderr),
      );
    // The raw Temporal CLI: with no change request, or one that does not exist, the release is refused.
    expect(await rawRelease({})).toContain('needs an approved deal_release change request');
    expect(await rawRelease({ changeRequestId: 'cr-000000000000' })).toContain('no change request cr-000000000000');
    expect(await reservation('release-slow')).toBe('reserved');
    // The API answers 202 with the request it opened (left pending here: the CLI's one is approved below).
    const viaApi = await fetch(`${api.url}/deals/${id('release-slow')}/reconcile`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await api.key('ops-api', ['risk_officer'])}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ executed: false, reason: 'no fill' }),
    });
    expect(viaApi.status).toBe(202);
    expect(await viaApi.json()).toMatchObject({ changeRequest: { status: 'pending', applied: false } });
    // The CLI opens a request; its requester's word alone leaves the money reserved.
    const asked = await cli(['deal', 'reconcile', id('release-slow'), '--executed', 'false', '--reason', 'no fill']);
    expect(asked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pending approval: change request cr-/) });
    const changeRequestId = /(cr-[0-9a-f]{12})/.exec(asked.stdout)![1]!;
    expect(await rawRelease({ changeRequestId })).toContain(`change request ${changeRequestId} is pending`);
    expect(await reservation('release-slow')).toBe('reserved');
    expect(await stage('release-slow')).toBe('awaiting_reconciliation');
    // Two others approve: the request applies and sends the release; the deal frees its reservation.
    expect(await approveAs('risk-2', 'risk_officer', changeRequestId)).toMatchObject({ code: 0 });
    expect(await approveAs('mgr-1', 'manager', changeRequestId)).toMatchObject({ code: 0 });
    expect(await handle.result()).toMatchObject({
      status: 'failed',
      compensated: true,
      error: 'not executed (reconciled by ops): no fill',
    });
    expect(await reservation('release-slow')).toBe('released');
    const [reconciled] = await listAuditEvents(t.db, {
      kind: 'deal.reconciled',
      subject: `deal:${id('release-slow')}`,
    });
    expect(reconciled).toMatchObject({ actor: 'ops', details: { executed: false, changeRequestId } });
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
    const asked = JSON.parse(released.stdout);
    expect(asked).toMatchObject({ status: 'pending', applied: false });
    expect(await reservation('reset-slow')).toBe('reserved');
    // The applier sends the release to the run that claimed the deal: the reset one.
    expect(await approveAs('risk-3', 'risk_officer', asked.changeRequestId)).toMatchObject({ code: 0 });
    expect(await approveAs('mgr-2', 'manager', asked.changeRequestId)).toMatchObject({ code: 0 });
    await expect.poll(() => reservation('reset-slow'), { timeout: 15_000 }).toBe('released');
    expect(await client.workflow.getHandle(`deal-${id('reset-slow')}`).result()).toMatchObject({
      status: 'failed',
      compensated: true,
    });
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
