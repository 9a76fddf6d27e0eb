// `npm run bench:watchdogs`: from a tripwire or canary decision to the kill
// switch persisted by the control plane, and to the first deal it denies.
// Dev server + real PostgreSQL; prints p50/p99 over the repetitions.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createSimulatedExecutor } from '../activities/executors/simulated';
import { WardenClient } from '../src/client';
import { SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import { recordKpiEvent } from '../src/db/kpi.repository';
import { resetTripwire, setRegressionPolicy } from '../src/db/watchdogs.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../src/domain/permits/rules';
import { workflowsEntry } from '../src/config/paths';
import { closedPort, createScratchDatabase, percentile, createWardenDevServer } from '../test/support/processes';
import { runBenchmark } from './run';

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 20);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const database = await createScratchDatabase('warden_bench');
  const db = database.db;
  await db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();

  const env = await createWardenDevServer();
  const taskQueue = 'bench-watchdogs';
  const warden = new WardenClient(env.client, taskQueue);
  let decidedAt = 0;
  const base = createActivities({
    db,
    governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPerHour: 1_000_000, maxPer5Min: 1_000_000 },
    controlPlane: warden,
    // No default executor: the deals fill on the bench's own queue.
    executor: createSimulatedExecutor(),
    // Each repetition releases at once: no cooldown here, the bench measures the way in.
    settings: { ...SAFE_GOVERNANCE_SETTINGS, release: { cooldown: '0s', approvals: 1 } },
    pingTemporal: async () => {
      await env.client.workflowService.getSystemInfo({});
    },
  });
  // The decision instant: the tripwire's evaluation returning a firing, or the canary's last check failing.
  const activities = {
    ...base,
    evaluateRegressionPolicies: async (input: { at: string }) => {
      const report = await base.evaluateRegressionPolicies(input);
      if (report.fired.length > 0) decidedAt = performance.now();
      return report;
    },
    checkHttp: async (probe: { name: string; url: string; timeoutMs: number }) => {
      const result = await base.checkHttp(probe);
      decidedAt = performance.now();
      return result;
    },
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: workflowsEntry, logger: new DefaultLogger('WARN') }),
    activities,
  });

  const measure = async (start: () => Promise<unknown>) => {
    decidedAt = 0;
    const version = (await warden.controlPlaneState()).version;
    const run = start();
    // Persisted: the control plane's row says engaged.
    let persistedAt = 0;
    for (;;) {
      const row = await db
        .selectFrom('control_plane_state')
        .select(['kill_switch_engaged', 'version'])
        .executeTakeFirstOrThrow();
      if (row.kill_switch_engaged && row.version > version) {
        persistedAt = performance.now();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // First denial: deals back to back until one is stopped by the kill switch.
    let deniedAt = 0;
    for (let i = 0; deniedAt === 0; i++) {
      const result = await warden.executeDeal({
        dealId: `probe-${randomUUID()}`,
        engine: 'WHOLESALE',
        symbol: `P${i}`,
        amount: 1,
        requestedBy: 'bench',
      });
      if (result.status === 'denied' && result.reason === 'kill_switch_engaged') deniedAt = performance.now();
    }
    await run;
    const after = await warden.controlPlaneState();
    await warden.releaseKillSwitch({ actor: 'bench', role: 'risk_officer', reason: 'repetition over' });
    await warden.waitForControlPlane(after.version + 1);
    return { toPersisted: persistedAt - decidedAt, toDenied: deniedAt - decidedAt };
  };

  const results = await worker.runUntil(async () => {
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
    await setRegressionPolicy(
      db,
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
      'bench',
    );
    const tripwire = [];
    for (let r = 0; r < REPETITIONS; r++) {
      for (let i = 0; i < 15; i++)
        await recordKpiEvent(db, {
          domain: 'CAPITAL',
          metric: 'roi_event',
          success: i < 10 || i % 2 === 0,
          source: 'bench',
        });
      tripwire.push(
        await measure(() =>
          env.client.workflow.execute('regressionTripwire', { taskQueue, workflowId: `bench-tripwire-${r}` }),
        ),
      );
      await resetTripwire(db, { domain: 'CAPITAL', metric: 'roi_event' }, 'bench', 'repetition over');
    }
    const probe = [{ name: 'exchange', url: `http://127.0.0.1:${await closedPort()}/health`, timeoutMs: 1000 }];
    const canary = [];
    for (let r = 0; r < REPETITIONS; r++) {
      // Threshold 1: each run decides on its own.
      canary.push(
        await measure(() =>
          env.client.workflow.execute('infrastructureCanary', {
            taskQueue,
            workflowId: `bench-canary-${r}`,
            args: [{ threshold: 1, httpProbes: probe }],
          }),
        ),
      );
    }
    return { tripwire, canary };
  });

  console.log(`\nwatchdog reaction, ${REPETITIONS} repetitions each (dev server + PostgreSQL):`);
  const rows: Record<string, { p50: number; p99: number }> = {};
  for (const [watchdog, samples] of Object.entries(results)) {
    for (const key of ['toPersisted', 'toDenied'] as const) {
      const values = samples.map((s) => s[key]);
      rows[`${watchdog}.${key}`] = { p50: percentile(values, 50), p99: percentile(values, 99) };
      console.log(
        `  ${watchdog.padEnd(9)} decision → ${key === 'toPersisted' ? 'kill switch persisted' : 'first denied deal    '}  p50 ${percentile(values, 50).toFixed(1)} ms  p99 ${percentile(values, 99).toFixed(1)} ms  (target < 1000 ms)`,
      );
    }
  }
  console.log(`\nJSON ${JSON.stringify(rows)}`);
  await env.teardown();
  await database.drop();
}

runBenchmark(main);
