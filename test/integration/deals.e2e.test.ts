import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { createSimulatedExecutor } from '../../activities/executors/simulated';
import { WardenClient } from '../../src/client';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import type { ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { toolPaths } from '../../src/config/paths';
import { setStrategyLevel } from '../../src/db/strategy.repository';
import { type CliApi, type Ran, serveCliApi } from '../support/processes';
import { armControlPlane } from '../support/change-requests';
import {
  createTestDatabase,
  markGoLivePlaybookCompleted,
  devServerAddress,
  type TestDatabase,
  uniqueName,
  runDevServerWorker,
  type RunningWorker,
} from '../helpers';

const run = promisify(execFile);
const namespace = 'warden-deals-e2e';

// A producer's deals through Warden on the real dev server: the producer's
// executor runs on its own task queue, operators act with the CLIs.
describe('governed deals end to end', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('warden-e2e');
  const producerQueue = uniqueName('producer');
  const address = devServerAddress();
  const executeDeal = vi.fn(async (input: ExecuteDealInput): Promise<ExecuteDealResult> => ({
    realizedLoss: input.amount > 200 ? 20 : 0,
    externalId: `fill-${input.dealId}`,
  }));

  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;
  const ledger = async (engine: string) =>
    JSON.parse((await cli(['risk', 'ledger', '--json'])).stdout).engines.find(
      (e: { engine: string }) => e.engine === engine,
    );

  beforeAll(async () => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    workers.push(
      await runDevServerWorker({
        namespace,
        taskQueue,
        activities: createActivities({
          db: t.db,
          governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 10, maxPerHour: 10 },
          controlPlane: warden,
          // `warden deal start` names no executor queue: the simulated one fills on Warden's queue.
          executor: createSimulatedExecutor(),
        }),
      }),
      // The producer's own worker: only its executor, on its own task queue.
      await runDevServerWorker({ namespace, taskQueue: producerQueue, activities: { executeDeal }, workflows: false }),
    );
    await armControlPlane(t.db, warden, { goLive: true, applyMode: 'live', reason: 'e2e' });
    await warden.waitForControlPlane(2);
    // `warden` as ops, through the API with an owner's key.
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['owner']), { DATABASE_URL: t.url });
  });

  afterAll(async () => {
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await client?.connection.close();
    await t?.drop();
  });

  it("a deal within limits runs on the producer's executor and settles", async () => {
    const result = await warden.executeDeal({
      dealId: 'e2e-1',
      engine: 'WHOLESALE',
      symbol: 'ETHUSDT',
      amount: 300,
      requestedBy: 'bot-7',
      executorTaskQueue: producerQueue,
    });
    expect(result).toMatchObject({ status: 'executed', applyMode: 'live', realizedLoss: 20, externalId: 'fill-e2e-1' });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(await ledger('WHOLESALE')).toEqual({
      engine: 'WHOLESALE',
      exposureUsed: 300,
      openRiskReserved: 0,
      realizedLoss: 20,
      actions: 1,
    });
  });

  it('a deal over the cap is denied with its reason and leaves nothing reserved', async () => {
    const result = await warden.executeDeal({
      dealId: 'e2e-2',
      engine: 'WHOLESALE',
      symbol: 'ETHUSDT',
      amount: 800,
      requestedBy: 'bot-7',
      executorTaskQueue: producerQueue,
    });
    expect(result).toMatchObject({ status: 'denied', gate: 'risk', reason: 'daily_exposure_exceeded' });
    const report = JSON.parse((await cli(['risk', 'ledger', '--json'])).stdout);
    expect(report.engines.find((e: { engine: string }) => e.engine === 'WHOLESALE')).toMatchObject({
      exposureUsed: 300,
      openRiskReserved: 0,
      actions: 1,
    });
    expect(report.denials).toEqual([{ engine: 'WHOLESALE', reason: 'daily_exposure_exceeded', count: 1 }]);
  });

  it("the denied deal is found by its search attributes: the raw CLI's query, and `warden deals list --outcome denied --engine`", async () => {
    const listed = async (query: string) =>
      JSON.parse(
        (
          await run(toolPaths.temporal, [
            'workflow',
            'list',
            '--address',
            address,
            '--namespace',
            namespace,
            '--query',
            query,
            '-o',
            'json',
          ])
        ).stdout || '[]',
      ) as { execution: { workflowId: string } }[];
    const ids = (rows: { execution: { workflowId: string } }[]) => rows.map((r) => r.execution.workflowId).sort();
    // Visibility trails the close by a moment.
    await vi.waitFor(
      async () =>
        expect(
          ids(await listed(`WardenOutcome='denied' AND WardenEngine='WHOLESALE' AND TaskQueue='${taskQueue}'`)),
        ).toEqual(['deal-e2e-2']),
      { timeout: 15_000, interval: 250 },
    );
    expect(
      ids(await listed(`WardenOutcome='executed' AND WardenSymbol='ETHUSDT' AND TaskQueue='${taskQueue}'`)),
    ).toEqual(['deal-e2e-1']);
    expect(ids(await listed(`WardenDeniedGate='risk' AND TaskQueue='${taskQueue}'`))).toEqual(['deal-e2e-2']);

    const cliList = await cli(['deals', 'list', '--outcome', 'denied', '--engine', 'WHOLESALE', '--json']);
    expect(cliList.code, cliList.stderr).toBe(0);
    const answer = JSON.parse(cliList.stdout);
    expect(answer.query).toBe(
      "WorkflowType = 'dealExecution' AND WardenOutcome = 'denied' AND WardenEngine = 'WHOLESALE'",
    );
    expect(answer.deals).toContainEqual(
      expect.objectContaining({
        dealId: 'e2e-2',
        status: 'COMPLETED',
        engine: 'WHOLESALE',
        symbol: 'ETHUSDT',
        outcome: 'denied',
        deniedGate: 'risk',
        stage: 'done',
        awaitingApproval: [],
      }),
    );
    expect(answer.deals.map((d: { dealId: string }) => d.dealId)).not.toContain('e2e-1');
    // The Web UI's summary line, and the details saying how it ended.
    const denied = client.workflow.getHandle('deal-e2e-2');
    expect(await (await denied.describe()).staticSummary()).toBe('Deal e2e-2: buy 800 ETHUSDT on WHOLESALE, by bot-7');
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'deal-execution-generation-denied-visible.json'),
        historyToJSON(await client.workflow.getHandle('deal-e2e-2').fetchHistory()),
      );
    // A filter value is validated, never pasted into the query.
    const hostile = await cli(['deals', 'list', '--engine', "X' OR WorkflowType != '"]);
    expect(hostile.code).toBe(2);
    expect(hostile.stderr).toContain('--engine');
  });

  it('`warden deal start --wait` runs a deal, and a throttled engine is denied policy_disabled', async () => {
    const started = await cli([
      'deal',
      'start',
      '--deal-id',
      'e2e-cli',
      '--engine',
      'CAPITAL',
      '--symbol',
      'SOLUSDT',
      '--amount',
      '50',
      '--wait',
      '--json',
    ]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ status: 'executed', dealId: 'e2e-cli' });
    const again = await cli([
      'deal',
      'start',
      '--deal-id',
      'e2e-cli',
      '--engine',
      'CAPITAL',
      '--symbol',
      'SOLUSDT',
      '--amount',
      '50',
    ]);
    expect(again).toMatchObject({ code: 2, stderr: expect.stringContaining('deal e2e-cli was already started') });

    expect((await cli(['risk', 'set-policy', 'CAPITAL', '--enabled', 'false'])).code).toBe(0);
    const throttled = await cli([
      'deal',
      'start',
      '--deal-id',
      'e2e-cli-2',
      '--engine',
      'CAPITAL',
      '--symbol',
      'SOLUSDT',
      '--amount',
      '50',
      '--wait',
    ]);
    expect(throttled).toMatchObject({ code: 3, stdout: expect.stringContaining('DENIED at risk: policy_disabled') });
    const bad = await cli([
      'deal',
      'start',
      '--deal-id',
      'e2e-cli-3',
      '--engine',
      'CAPITAL',
      '--symbol',
      'SOLUSDT',
      '--amount=-1',
    ]);
    expect(bad).toMatchObject({ code: 2, stderr: 'warden: --amount: must be greater than 0\n' });
    const policies = JSON.parse((await cli(['risk', 'policies', '--json'])).stdout);
    expect(policies.find((p: { engine: string }) => p.engine === 'CAPITAL')).toMatchObject({
      enabled: false,
      maxOpenRisk: 300,
    });
    const permits = JSON.parse((await cli(['permits', '--symbol', 'SOLUSDT', '--json'])).stdout);
    expect(permits.permits).toHaveLength(1);
  });

  it('`warden strategy` and `warden tokens` opt a strategy in and govern its deals', async () => {
    expect((await cli(['strategy', 'enable', 'mr-9', '--token-required', 'true'])).code).toBe(0);
    // The CLI opts in at L0 only (raising needs an approved promotion): seeded at L3 directly.
    await setStrategyLevel(t.db, { id: 'mr-9', to: 'L3', since: new Date() });
    expect(await cli(['strategy', 'enable', 'mr-9', '--level', 'L7'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--level: Invalid option'),
    });
    // Issuing a token loosens: a change request a risk officer and a manager other than its requester approve.
    const issued = JSON.parse(
      (await cli(['tokens', 'issue', '--strategy', 'mr-9', '--max-notional', '500', '--symbols', 'ADAUSDT', '--json']))
        .stdout,
    );
    expect(issued).toMatchObject({ status: 'pending', changes: [{ kind: 'execution_token', direction: 'loosen' }] });
    for (const [who, role] of [
      ['ro', 'risk_officer'],
      ['mgr', 'manager'],
    ] as const)
      expect(
        (
          await api.cli(await api.key(who, [role]), { DATABASE_URL: t.url })([
            'change',
            'approve',
            issued.changeRequestId,
            '--role',
            role,
          ])
        ).code,
      ).toBe(0);
    const token = await vi.waitFor(
      async () => {
        const listed = JSON.parse((await cli(['tokens', 'list', '--strategy', 'mr-9', '--json'])).stdout);
        expect(listed).toHaveLength(1);
        return listed[0];
      },
      { timeout: 15_000, interval: 200 },
    );
    expect(token).toMatchObject({ id: issued.tokenId, strategyId: 'mr-9', symbols: ['ADAUSDT'], maxNotional: 500 });
    const noToken = await cli([
      'deal',
      'start',
      '--deal-id',
      's-1',
      '--engine',
      'WHOLESALE',
      '--symbol',
      'ADAUSDT',
      '--amount',
      '100',
      '--strategy',
      'mr-9',
      '--wait',
      '--json',
    ]);
    expect(JSON.parse(noToken.stdout)).toMatchObject({
      status: 'denied',
      gate: 'strategy',
      reason: 'block',
      detail: expect.stringContaining('token: token_missing'),
    });
    const status = JSON.parse((await cli(['strategy', 'status', 'mr-9', '--json'])).stdout);
    expect(status).toMatchObject({ strategy: { level: 'L3', tokenRequired: true }, promotion: { eligible: false } });
    expect(JSON.parse((await cli(['tokens', 'revoke', '--strategy', 'mr-9', '--json'])).stdout)).toEqual({
      revoked: 1,
    });
    expect((await cli(['strategy', 'pause', 'mr-9', '--reason', 'review'])).stdout).toMatch(/^applied at once/);
  });

  it('admitDeal answers at admission in one round trip while the deal executes; other terms under its id are refused', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    executeDeal.mockImplementationOnce(async (input) => {
      await held;
      return { realizedLoss: 0, externalId: `fill-${input.dealId}` };
    });
    const input = {
      dealId: 'e2e-admit',
      engine: 'WHOLESALE',
      symbol: 'BTCUSDT',
      amount: 10,
      requestedBy: 'bot-7',
      executorTaskQueue: producerQueue,
    };
    const dealTerms = {
      engine: 'WHOLESALE',
      symbol: 'BTCUSDT',
      amount: 10,
      executionClass: 'PROD_EXEC',
      strategyId: null,
      side: 'buy',
    };
    let answer: Awaited<ReturnType<WardenClient['admitDeal']>>;
    try {
      answer = await warden.admitDeal(input);
      expect(answer).toEqual({
        outcome: 'admitted',
        dealId: 'e2e-admit',
        permitId: expect.any(String),
        applyMode: 'live',
      });
      // The executor has not answered: the producer heard before the deal ended.
      expect((await warden.dealProgress('e2e-admit')).result).toBeNull();
      // The same id with other terms would take this deal's admission for its own: refused.
      await expect(warden.admitDeal({ ...input, amount: 20 })).rejects.toMatchObject({
        cause: { type: 'DealTermsMismatch', message: expect.stringMatching(/runs with other terms/) },
      });
      expect(await warden.admitDeal(input)).toEqual(answer);
      // Raw callers (the CLI, the Web UI): hostile terms are refused naming the field, and change nothing.
      const raw = client.workflow.getHandle('deal-e2e-admit');
      for (const [terms, field] of [
        [{ ...dealTerms, symbol: `BTC\u0000${'x'.repeat(1_000_000)}` }, 'symbol'],
        [{ ...dealTerms, executionClass: 'GODMODE' }, 'executionClass'],
        [{ ...dealTerms, extra: true }, 'extra'],
      ] as const)
        await expect(raw.executeUpdate('admission', { args: [terms] })).rejects.toMatchObject({
          cause: { type: 'InvalidInput', message: expect.stringContaining(field) },
        });
      expect((await warden.dealProgress('e2e-admit')).result).toBeNull();
    } finally {
      release();
    }
    const result = await warden.getDealResult('e2e-admit');
    expect(result).toMatchObject({
      status: 'executed',
      permitId: answer.outcome === 'admitted' ? answer.permitId : '',
    });
    // Closed: the id answers its deal's result, and nothing runs twice.
    expect(await warden.admitDeal(input)).toEqual({ outcome: 'ended', dealId: 'e2e-admit', result });
    expect(executeDeal.mock.calls.filter(([call]) => call.dealId === 'e2e-admit')).toHaveLength(1);
    // A denial is the answer too.
    expect(await warden.admitDeal({ ...input, dealId: 'e2e-admit-over', amount: 1_000_000 })).toMatchObject({
      outcome: 'ended',
      result: { status: 'denied', gate: 'risk' },
    });
  });

  it('the kill switch, engaged with the raw temporal CLI, blocks the next deal', async () => {
    await run(toolPaths.temporal, [
      'workflow',
      'signal',
      '--address',
      address,
      '--namespace',
      namespace,
      '--workflow-id',
      'warden-control-plane',
      '--name',
      'engageKillSwitch',
      '--input',
      JSON.stringify({ source: 'operator', actor: 'ops', reason: 'e2e drill' }),
    ]);
    await warden.waitForControlPlane(3);
    const calls = executeDeal.mock.calls.length;
    const result = await warden.executeDeal({
      dealId: 'e2e-3',
      engine: 'WHOLESALE',
      symbol: 'ETHUSDT',
      amount: 10,
      requestedBy: 'bot-7',
      executorTaskQueue: producerQueue,
    });
    expect(result).toMatchObject({ status: 'denied', gate: 'control_plane', reason: 'kill_switch_engaged' });
    expect(executeDeal).toHaveBeenCalledTimes(calls);
  });
});
