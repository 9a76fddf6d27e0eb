import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { openDatabase, type OpenDatabase } from '../../src/db/connect';
import { recordKpiEvent } from '../../src/db/kpi.repository';
import { listRestrictions, resetTripwire, setRegressionPolicy } from '../../src/db/watchdogs.repository';
import type { ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import {
  applyWatchdogSchedules,
  CANARY_SCHEDULE_ID,
  GOVERNANCE_CYCLE_SCHEDULE_ID,
  WEEKLY_GOVERNANCE_SCHEDULE_ID,
  TRIPWIRE_SCHEDULE_ID,
} from '../../src/temporal/schedules';
import { type CliApi, closedPort, type Ran, serveCliApi } from '../support/processes';
import { armControlPlane } from '../support/change-requests';
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

const run = promisify(execFile);
const namespace = 'warden-watchdogs-e2e';

// Watchdogs as operators run them: Schedules triggered with the real
// `temporal` binary, acting on the same database deals go through.
describe('watchdogs end to end', () => {
  let t: TestDatabase;
  let database: OpenDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: RunningWorker | undefined;
  const taskQueue = uniqueName('watchdogs');
  const address = devServerAddress();
  let release: (() => void) | undefined;
  const executeDeal = async (input: ExecuteDealInput): Promise<ExecuteDealResult> => {
    // A deal on HELD waits for the test: it is past its reserve meanwhile.
    if (input.symbol === 'HELD') await new Promise<void>((resolve) => (release = resolve));
    return { realizedLoss: 0, externalId: `fill-${input.dealId}` };
  };

  async function startWorker(): Promise<void> {
    database = await openDatabase({ databaseUrl: t.url, dataDir: '.data' });
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        settings: TEST_SETTINGS,
        db: database.db,
        governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 100, maxPerHour: 100 },
        controlPlane: warden,
        pingTemporal: async () => {
          await client.workflowService.getSystemInfo({});
        },
        executor: { executeDeal },
      }),
    });
  }
  async function stopWorker(): Promise<void> {
    await worker?.stop();
    worker = undefined;
    await database.close();
  }

  /** `temporal schedule trigger`, then the result of the run it started (kept as a replay fixture when asked). */
  async function triggerAndWait(scheduleId: string, fixture?: string): Promise<unknown> {
    const handle = client.schedule.getHandle(scheduleId);
    const before = (await handle.describe()).info.numActionsTaken;
    await run(toolPaths.temporal, [
      'schedule',
      'trigger',
      '--address',
      address,
      '--namespace',
      namespace,
      '--schedule-id',
      scheduleId,
    ]);
    await expect
      .poll(async () => (await handle.describe()).info.numActionsTaken, { timeout: 15_000 })
      .toBeGreaterThan(before);
    const actions = (await handle.describe()).info.recentActions;
    const started = actions[actions.length - 1]!.action;
    const runHandle = client.workflow.getHandle(started.workflow.workflowId, started.workflow.firstExecutionRunId);
    const result = await runHandle.result();
    if (fixture && process.env.WARDEN_RECORD_HISTORIES === '1') {
      writeFileSync(path.join(__dirname, '..', 'histories', fixture), historyToJSON(await runHandle.fetchHistory()));
    }
    return result;
  }
  let api: CliApi;
  let cli: (args: string[]) => Promise<Ran>;
  const deal = (dealId: string, engine: string, symbol = 'BTCUSDT') =>
    warden.executeDeal({ dealId, engine, symbol, amount: 10, requestedBy: 'bot' });
  const degrade = async (domain: string, metric: string) => {
    for (let i = 0; i < 15; i++)
      await recordKpiEvent(t.db, {
        domain,
        metric,
        success: i >= 10 ? i % 2 === 0 : true,
        source: 'test',
        at: new Date(Date.now() - 60_000 + i * 100),
      });
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    await startWorker();
    await applyWatchdogSchedules(client, {
      taskQueue,
      // Long intervals: in this test the runs come from `temporal schedule trigger`.
      tripwireEvery: '1h',
      canaryEvery: '1h',
      canary: {
        threshold: 3,
        httpProbes: [{ name: 'exchange', url: `http://127.0.0.1:${await closedPort()}/health` }],
        checkTimeoutMs: 2000,
      },
    });
    // Applying again only updates: the schedules are created idempotently.
    expect(
      await applyWatchdogSchedules(client, {
        taskQueue,
        tripwireEvery: '1h',
        canaryEvery: '1h',
        canary: {
          threshold: 3,
          httpProbes: [{ name: 'exchange', url: `http://127.0.0.1:${await closedPort()}/health` }],
        },
      }),
    ).toEqual({
      created: [],
      updated: [TRIPWIRE_SCHEDULE_ID, CANARY_SCHEDULE_ID, GOVERNANCE_CYCLE_SCHEDULE_ID, WEEKLY_GOVERNANCE_SCHEDULE_ID],
    });
    await armControlPlane(t.db, warden, { goLive: true, applyMode: 'live' });
    await warden.waitForControlPlane(2);
    // `warden` as ops, a risk officer: resetting a tripwire lifts what it restricted.
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['risk_officer']), { DATABASE_URL: t.url });
  });

  afterAll(async () => {
    release?.();
    await api?.close();
    for (const id of [
      TRIPWIRE_SCHEDULE_ID,
      CANARY_SCHEDULE_ID,
      GOVERNANCE_CYCLE_SCHEDULE_ID,
      WEEKLY_GOVERNANCE_SCHEDULE_ID,
    ])
      await client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    if (worker) await stopWorker();
    await client?.connection.close();
    await t?.drop();
  });

  it('a scheduled tripwire throttles an engine: the next deal is denied policy_disabled, and the throttle outlives a restart until reset', async () => {
    await setRegressionPolicy(
      t.db,
      {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.2,
        action: 'THROTTLE',
        enabled: true,
      },
      'ops',
    );
    await degrade('WHOLESALE', 'contract_rate');
    expect(await triggerAndWait(TRIPWIRE_SCHEDULE_ID, 'regression-tripwire-throttle.json')).toMatchObject({
      fired: [{ policy: 'WHOLESALE/contract_rate', action: 'THROTTLE' }],
    });
    expect(await deal('t1', 'WHOLESALE')).toMatchObject({ status: 'denied', gate: 'risk', reason: 'policy_disabled' });
    const status = JSON.parse((await cli(['tripwire', 'status', '--json'])).stdout);
    expect(
      status.policies.find(
        (p: { domain: string; metric: string }) => p.domain === 'WHOLESALE' && p.metric === 'contract_rate',
      ),
    ).toMatchObject({ enabled: true, state: { triggered: true, dropFraction: 0.4 } });
    expect(status.restrictions).toMatchObject([
      { engine: 'WHOLESALE', kind: 'throttle', source: 'tripwire:WHOLESALE/contract_rate' },
    ]);
    expect(await cli(['tripwire', 'reset', 'WHOLESALE/contract_rate'])).toMatchObject({
      code: 2,
      stderr: 'warden: --reason: required\n',
    });
    expect(await cli(['tripwire', 'reset', 'wholesale', '--reason', 'x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('policy: expected DOMAIN/metric'),
    });
    // It does not fire again on the next run.
    expect(await triggerAndWait(TRIPWIRE_SCHEDULE_ID)).toMatchObject({
      fired: [],
      evaluated: [{ decision: 'still_triggered' }],
    });

    await stopWorker();
    await startWorker();
    expect(await deal('t2', 'WHOLESALE')).toMatchObject({ status: 'denied', reason: 'policy_disabled' });
    // Re-armed at once; lifting its throttle loosens, so it waits for someone other than ops to approve.
    const reset = await cli(['tripwire', 'reset', 'WHOLESALE/contract_rate', '--reason', 'reviewed', '--json']);
    const answer = JSON.parse(reset.stdout);
    expect(answer).toMatchObject({
      policy: 'WHOLESALE/contract_rate',
      lifted: [],
      liftRequest: { status: 'pending', changes: [{ kind: 'restriction', direction: 'loosen' }] },
    });
    const boss = api.cli(await api.key('boss', ['manager']), { DATABASE_URL: t.url });
    expect((await boss(['change', 'approve', answer.liftRequest.changeRequestId, '--role', 'manager'])).code).toBe(0);
    await expect
      .poll(async () => (await listRestrictions(t.db, { activeOnly: true })).length, { timeout: 15_000 })
      .toBe(0);
    expect(await deal('t3', 'WHOLESALE')).toMatchObject({ status: 'executed' });
    await setRegressionPolicy(
      t.db,
      {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.2,
        action: 'THROTTLE',
        enabled: false,
      },
      'ops',
    );
  });

  it('a PAUSE policy denies new deals while one already reserved settles; reset lifts it', async () => {
    await setRegressionPolicy(
      t.db,
      {
        domain: 'BUYER_MATCH',
        metric: 'match_success',
        engine: 'CAPITAL',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.25,
        action: 'PAUSE',
        enabled: true,
      },
      'ops',
    );
    await degrade('BUYER_MATCH', 'match_success');
    const held = warden.executeDeal({
      dealId: 'p-held',
      engine: 'CAPITAL',
      symbol: 'HELD',
      amount: 10,
      requestedBy: 'bot',
    });
    await expect
      .poll(async () => (await warden.dealProgress('p-held').catch(() => undefined))?.stage, { timeout: 10_000 })
      .toBe('execute');
    expect(await triggerAndWait(TRIPWIRE_SCHEDULE_ID)).toMatchObject({
      fired: [{ action: 'PAUSE', engine: 'CAPITAL' }],
    });
    expect(await deal('p-new', 'CAPITAL')).toMatchObject({ status: 'denied', reason: 'engine_paused' });
    release!();
    expect(await held).toMatchObject({ status: 'executed' });
    expect(
      await t.db
        .selectFrom('risk_reservation')
        .select('status')
        .where('idempotency_key', '=', 'deal:p-held')
        .executeTakeFirst(),
    ).toEqual({ status: 'settled' });
    await resetTripwire(t.db, { domain: 'BUYER_MATCH', metric: 'match_success' }, 'ops', 'reviewed');
    // Reset re-arms it: with the data still degraded it would fire again, so it is switched off too.
    await setRegressionPolicy(
      t.db,
      {
        domain: 'BUYER_MATCH',
        metric: 'match_success',
        engine: 'CAPITAL',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.25,
        action: 'PAUSE',
        enabled: false,
      },
      'ops',
    );
    expect(await listRestrictions(t.db)).toEqual([]);
    expect(await deal('p-after', 'CAPITAL')).toMatchObject({ status: 'executed' });
  });

  it('a KILL_SWITCH policy blocks the next deal', async () => {
    await setRegressionPolicy(
      t.db,
      {
        domain: 'CAPITAL',
        metric: 'roi_event',
        engine: 'CAPITAL',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.3,
        action: 'KILL_SWITCH',
        enabled: true,
      },
      'ops',
    );
    await degrade('CAPITAL', 'roi_event');
    const before = (await warden.controlPlaneState()).version;
    expect(await triggerAndWait(TRIPWIRE_SCHEDULE_ID)).toMatchObject({ fired: [{ action: 'KILL_SWITCH' }] });
    expect(await warden.waitForControlPlane(before + 1)).toMatchObject({
      killSwitchEngaged: true,
      killSwitchSource: 'tripwire',
    });
    expect(await deal('k1', 'WHOLESALE')).toMatchObject({
      status: 'denied',
      gate: 'control_plane',
      reason: 'kill_switch_engaged',
    });
    await resetTripwire(t.db, { domain: 'CAPITAL', metric: 'roi_event' }, 'ops', 'reviewed');
    await setRegressionPolicy(
      t.db,
      {
        domain: 'CAPITAL',
        metric: 'roi_event',
        engine: 'CAPITAL',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.3,
        action: 'KILL_SWITCH',
        enabled: false,
      },
      'ops',
    );
    // Releasing the kill switch stays a human decision.
    expect((await warden.controlPlaneState()).killSwitchEngaged).toBe(true);
    await warden.releaseKillSwitch({ actor: 'ops', role: 'risk_officer', reason: 'tripwire reviewed' });
    await warden.waitForControlPlane(before + 2);
    expect(await deal('k2', 'WHOLESALE')).toMatchObject({ status: 'executed' });
  });

  it('a REDUCE_ONLY policy engages the kill switch in reduce mode: a deal that adds exposure is denied reducing_only', async () => {
    const policy = {
      domain: 'CAPITAL',
      metric: 'exit_rate',
      engine: 'CAPITAL',
      windowEvents: 5,
      baselineEvents: 10,
      maxDropFraction: 0.3,
      action: 'REDUCE_ONLY' as const,
    };
    await setRegressionPolicy(t.db, { ...policy, enabled: true }, 'ops');
    await degrade('CAPITAL', 'exit_rate');
    const before = (await warden.controlPlaneState()).version;
    expect(await triggerAndWait(TRIPWIRE_SCHEDULE_ID)).toMatchObject({ fired: [{ action: 'REDUCE_ONLY' }] });
    expect(await warden.waitForControlPlane(before + 1)).toMatchObject({
      killSwitchEngaged: true,
      killSwitchMode: 'reduce',
      tradingState: 'reducing',
      killSwitchSource: 'tripwire',
    });
    // No position to reduce: a new one is refused, while exits would pass (test/activities/exits.test.ts).
    expect(await deal('r1', 'WHOLESALE')).toMatchObject({
      status: 'denied',
      gate: 'control_plane',
      reason: 'reducing_only',
    });
    await resetTripwire(t.db, { domain: 'CAPITAL', metric: 'exit_rate' }, 'ops', 'reviewed');
    await setRegressionPolicy(t.db, { ...policy, enabled: false }, 'ops');
    await warden.releaseKillSwitch({ actor: 'ops', role: 'risk_officer', reason: 'tripwire reviewed' });
    await warden.waitForControlPlane(before + 2);
  });

  it('the canary engages the kill switch at its threshold, not before, naming the failing checks', async () => {
    for (const run of [1, 2]) {
      expect(await triggerAndWait(CANARY_SCHEDULE_ID)).toMatchObject({
        consecutiveFailures: { exchange: run, postgres: 0, temporal: 0 },
        tripped: [],
      });
      expect((await warden.controlPlaneState()).killSwitchEngaged).toBe(false);
    }
    const before = (await warden.controlPlaneState()).version;
    expect(await triggerAndWait(CANARY_SCHEDULE_ID, 'infrastructure-canary-tripped.json')).toMatchObject({
      consecutiveFailures: { exchange: 3 },
      tripped: ['exchange'],
    });
    expect(JSON.parse((await cli(['canary', 'status', '--json'])).stdout)).toMatchObject([
      { name: 'exchange', ok: false, consecutiveFailures: 3 },
      { name: 'postgres', ok: true },
      { name: 'temporal', ok: true },
    ]);
    expect(await warden.waitForControlPlane(before + 1)).toMatchObject({
      killSwitchEngaged: true,
      killSwitchSource: 'canary',
      reason: expect.stringContaining('exchange ('),
    });
    expect(await deal('c1', 'WHOLESALE')).toMatchObject({ status: 'denied', reason: 'kill_switch_engaged' });
    const [tripped] = await listAuditEvents(t.db, { kind: 'canary.tripped' });
    expect(tripped!.details).toMatchObject({
      tripped: ['exchange'],
      failing: [{ name: 'exchange', consecutiveFailures: 3, error: expect.any(String) }],
    });
    const [engaged] = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_engaged' });
    expect(engaged).toMatchObject({
      actor: 'canary',
      details: { change: { source: 'canary', reason: expect.stringContaining('exchange') } },
    });
    // A fourth failing run does not engage it again.
    await triggerAndWait(CANARY_SCHEDULE_ID);
    expect((await warden.controlPlaneState()).version).toBe(before + 1);
  });
});
