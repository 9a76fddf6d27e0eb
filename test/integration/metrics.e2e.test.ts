import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WardenClient } from '../../src/client';
import { recordKpiEvent } from '../../src/db/kpi.repository';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import { setRegressionPolicy } from '../../src/db/watchdogs.repository';
import { WORKER_RUNTIME_METRICS } from '../../src/operator/metrics/worker-runtime';
import { projectRoot } from '../../src/config/paths';
import {
  CANARY_SCHEDULE_ID,
  GOVERNANCE_CYCLE_SCHEDULE_ID,
  WEEKLY_GOVERNANCE_SCHEDULE_ID,
  TRIPWIRE_SCHEDULE_ID,
} from '../../src/temporal/schedules';
import { closedPort } from '../support/processes';
import { armControlPlane } from '../support/change-requests';
import {
  createTestDatabase,
  devServerAddress,
  markGoLivePlaybookCompleted,
  type TestDatabase,
  uniqueName,
} from '../helpers';

const namespace = 'warden-metrics-e2e';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition, one sample per line. */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

async function scrape(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

/** The value of the series with exactly these labels; undefined when absent. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  return samples.find(
    (s) =>
      s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
  )?.value;
}

// The production entry point (workers/main.ts) as its own process on the dev
// server: governed deals and a denial go through it, then Prometheus' view of
// it is read back from both of its ports.
describe('/metrics of a running Warden', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: ChildProcess;
  let workerLog = '';
  let metricsPort: number;
  let runtimePort: number;
  const taskQueue = uniqueName('metrics');
  const address = devServerAddress();

  beforeAll(async () => {
    t = await createTestDatabase();
    await markGoLivePlaybookCompleted(t.db);
    [metricsPort, runtimePort] = [await closedPort(), await closedPort()];
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', 'main.ts')], {
      cwd: projectRoot,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: namespace,
        WARDEN_TASK_QUEUE: taskQueue,
        // The deals here name no executor queue: the production worker fills them only when told to.
        WARDEN_SIMULATED_EXECUTORS: 'true',
        DATABASE_URL: t.url,
        WARDEN_METRICS_PORT: String(metricsPort),
        WARDEN_WORKER_METRICS_PORT: String(runtimePort),
        WARDEN_API_PORT: '0',
        // A second permit for a symbol within 5 minutes is a burst: blocked, and apply mode disarmed.
        WARDEN_PERMIT_MAX_PER_5MIN: '1',
        // The watchdogs run when this test triggers them.
        WARDEN_TRIPWIRE_EVERY: '1h',
        WARDEN_CANARY_EVERY: '1h',
        WARDEN_CANARY_HTTP_PROBES: `exchange=http://127.0.0.1:${await closedPort()}/health`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (workerLog += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (workerLog += chunk.toString()));
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    // Answered only once the worker polls and has started the control plane.
    await warden.waitForControlPlane(0, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\nworker output:\n${workerLog}`);
    });
    await armControlPlane(t.db, warden, { goLive: true, applyMode: 'live', reason: 'metrics e2e' });
    await warden.waitForControlPlane(2);
  });

  afterAll(async () => {
    for (const id of [
      TRIPWIRE_SCHEDULE_ID,
      CANARY_SCHEDULE_ID,
      GOVERNANCE_CYCLE_SCHEDULE_ID,
      WEEKLY_GOVERNANCE_SCHEDULE_ID,
    ])
      await client?.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    if (worker && worker.exitCode === null) {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      const stuck = setTimeout(() => worker.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(stuck);
    }
    await client?.connection.close();
    await t?.drop();
  });

  it('after a governed deal, a permit block with its disarm and a risk denial, exports each with its labels and count', async () => {
    const deal = (dealId: string, engine: string, symbol: string, amount: number) =>
      warden.executeDeal({ dealId, engine, symbol, amount, requestedBy: 'bot-1' });
    expect(await deal('m-1', 'WHOLESALE', 'BTCUSDT', 100)).toMatchObject({ status: 'executed', applyMode: 'live' });
    // Counted from the audit log, each scrape adding only what came since the last.
    const first = await scrape(metricsPort);
    expect(valueOf(first, 'warden_governance_decisions_total', { outcome: 'executed', gate: 'none' })).toBe(1);
    expect(valueOf(first, 'warden_governance_decisions_total', { outcome: 'denied', gate: 'permit' })).toBe(0);
    expect(first.filter((x) => x.name === 'warden_governance_denials_total')).toEqual([]);
    expect(await deal('m-2', 'WHOLESALE', 'BTCUSDT', 10)).toMatchObject({
      status: 'denied',
      gate: 'permit',
      reason: 'burst_limit_exceeded',
    });
    expect(await warden.waitForControlPlane(3)).toMatchObject({ applyMode: 'dry_run' });
    // A GLOBAL cap of 120 with 100 committed: band D (from 75 %), and the next 50 is over it.
    await upsertRiskPolicy(
      t.db,
      {
        engine: 'GLOBAL',
        maxDailyLoss: 250,
        maxDailyExposure: 120,
        maxOpenRisk: null,
        maxActionsPerDay: null,
        enabled: true,
      },
      'ops',
    );
    expect(await deal('m-3', 'CAPITAL', 'SOLUSDT', 50)).toMatchObject({
      status: 'denied',
      gate: 'risk',
      reason: 'daily_exposure_exceeded',
    });
    await warden.engageKillSwitch({ source: 'operator', actor: 'ops', reason: 'metrics drill' });
    await warden.waitForControlPlane(4);

    const s = await scrape(metricsPort);
    expect(valueOf(s, 'warden_governance_decisions_total', { outcome: 'executed', gate: 'none' })).toBe(1);
    expect(valueOf(s, 'warden_governance_decisions_total', { outcome: 'denied', gate: 'permit' })).toBe(1);
    expect(valueOf(s, 'warden_governance_decisions_total', { outcome: 'denied', gate: 'risk' })).toBe(1);
    expect(valueOf(s, 'warden_governance_decisions_total', { outcome: 'denied', gate: 'control_plane' })).toBe(0);
    expect(valueOf(s, 'warden_governance_decisions_total', { outcome: 'failed', gate: 'none' })).toBe(0);
    expect(
      s.filter((x) => x.name === 'warden_governance_denials_total').map(({ labels, value }) => ({ ...labels, value })),
    ).toEqual(
      expect.arrayContaining([
        { gate: 'permit', reason: 'burst_limit_exceeded', value: 1 },
        { gate: 'risk', reason: 'daily_exposure_exceeded', value: 1 },
      ]),
    );
    expect(s.filter((x) => x.name === 'warden_governance_denials_total')).toHaveLength(2);

    // Seed 003's governor series.
    expect(valueOf(s, 'quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(valueOf(s, 'quantum_govern_allow_total', { symbol: 'SOLUSDT' })).toBeUndefined();
    expect(valueOf(s, 'quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'burst_limit_exceeded' })).toBe(1);
    expect(valueOf(s, 'quantum_govern_disarm_total', { reason: 'burst_limit_breach' })).toBe(1);
    expect(valueOf(s, 'quantum_govern_exec_count_hour', { symbol: 'BTCUSDT' })).toBe(1);
    expect(valueOf(s, 'quantum_govern_exec_count_5min', { symbol: 'BTCUSDT' })).toBe(1);

    // Control plane and capital, as persisted.
    expect(valueOf(s, 'warden_kill_switch_engaged')).toBe(1);
    expect(valueOf(s, 'warden_go_live_enabled')).toBe(1);
    expect(['dry_run', 'testnet', 'live'].map((mode) => valueOf(s, 'warden_apply_mode', { mode }))).toEqual([1, 0, 0]);
    expect(['A', 'B', 'C', 'D'].map((band) => valueOf(s, 'warden_capital_band', { band }))).toEqual([0, 0, 0, 1]);
    expect(valueOf(s, 'warden_capital_usage_ratio')).toBeCloseTo(100 / 120, 10);

    // Seed 002's series are in the same registry.
    expect(valueOf(s, 'simcorp_governance_current_phase_info', { phase: 'L3' })).toBe(1);
    expect(valueOf(s, 'simcorp_governance_circuit_breaker_events_unresolved')).toBe(0);
  });

  it('shows a fired tripwire, its throttle and a failing canary check once the watchdogs have run', async () => {
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
    // Ten successes, then three in five: the rate drops by 40 %.
    for (let i = 0; i < 15; i++) {
      await recordKpiEvent(t.db, {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        success: i < 10 || i % 2 === 0,
        source: 'test',
        at: new Date(Date.now() - 60_000 + i * 100),
      });
    }
    await client.schedule.getHandle(TRIPWIRE_SCHEDULE_ID).trigger();
    await client.schedule.getHandle(CANARY_SCHEDULE_ID).trigger();

    const tripwire = { domain: 'WHOLESALE', metric: 'contract_rate', engine: 'WHOLESALE', action: 'THROTTLE' };
    await expect
      .poll(async () => valueOf(await scrape(metricsPort), 'warden_tripwire_triggered', tripwire), { timeout: 20_000 })
      .toBe(1);
    await expect
      .poll(async () => valueOf(await scrape(metricsPort), 'warden_canary_check_failing', { check: 'exchange' }), {
        timeout: 20_000,
      })
      .toBe(1);

    const s = await scrape(metricsPort);
    expect(
      valueOf(s, 'warden_tripwire_triggered', {
        domain: 'CAPITAL',
        metric: 'roi_event',
        engine: 'CAPITAL',
        action: 'KILL_SWITCH',
      }),
    ).toBe(0);
    expect(valueOf(s, 'warden_tripwire_drop_fraction', { domain: 'WHOLESALE', metric: 'contract_rate' })).toBeCloseTo(
      0.4,
      10,
    );
    // The throttle lands through the control plane, just after the tripwire's state.
    await expect
      .poll(
        async () =>
          valueOf(await scrape(metricsPort), 'warden_engine_restrictions_active', {
            engine: 'WHOLESALE',
            kind: 'throttle',
          }),
        { timeout: 20_000 },
      )
      .toBe(1);
    expect(valueOf(s, 'warden_canary_consecutive_failures', { check: 'exchange' })).toBe(1);
    expect(valueOf(s, 'warden_canary_check_failing', { check: 'postgres' })).toBe(0);
    expect(valueOf(s, 'warden_canary_check_failing', { check: 'temporal' })).toBe(0);
  });

  it("serves the Temporal worker runtime's own metrics on their port, under the names the dashboard charts", async () => {
    const s = await scrape(runtimePort);
    const names = new Set(s.map((x) => x.name));
    // Failure counters appear with the first failure; every other listed series is there after the deals.
    for (const name of WORKER_RUNTIME_METRICS.filter((n) => !/fail/.test(n))) {
      expect(names.has(name) || names.has(`${name}_bucket`), name).toBe(true);
    }
    const completed = s.filter(
      (x) => x.name === 'temporal_workflow_completed' && x.labels.workflow_type === 'dealExecution',
    );
    expect(completed).toEqual([
      expect.objectContaining({ labels: expect.objectContaining({ namespace, task_queue: taskQueue }), value: 3 }),
    ]);
    expect(
      s.some(
        (x) =>
          x.name === 'temporal_local_activity_execution_latency_count' &&
          x.labels.activity_type === 'admitDeal' &&
          x.value >= 3,
      ),
    ).toBe(true);
  });
});
