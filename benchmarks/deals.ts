// `npm run bench:deals`: governed vs bare deals on the dev server with real
// PostgreSQL, gate-step latencies, and 1,000 racing reserves on one ledger row.
// Prints figures; asserts nothing.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createSimulatedExecutor } from '../activities/executors/simulated';
import { WardenClient } from '../src/client';
import { reserveExposure } from '../activities/gates/risk';
import { upsertRiskPolicy } from '../src/db/risk.repository';
import { setStrategyLevel, upsertStrategy } from '../src/db/strategy.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../src/domain/permits/rules';
import { projectRoot } from '../src/config/paths';
import { createScratchDatabase, percentile, createWardenDevServer } from '../test/support/processes';
import { cpuMeter, cpuPerDeal, type CpuByProcess, totalOf } from './cpu';
import { runBenchmark } from './run';

const N = Number(process.env.BENCH_DEALS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const RESERVES = Number(process.env.BENCH_RESERVES ?? 1000);
const PACED = Number(process.env.BENCH_PACED ?? 100);

const ms = (n: number) => `${n.toFixed(1)} ms`;

async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = Array.from<T>({ length: count });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/**
 * The ratio deals/s could reach on a machine whose CPU is the limit, were every gate free in the worker:
 * the bare deal's CPU over the governed deal's with its worker share cut to the bare one's. The dev
 * server's and PostgreSQL's extra work for a governed deal (its history's markers, the gates' statements)
 * stays; no worker-side change goes past this.
 */
function ratioCeiling(bare?: CpuByProcess, governed?: CpuByProcess): number | undefined {
  if (bare === undefined || governed === undefined) return undefined;
  return totalOf(bare) / totalOf({ ...governed, worker: bare.worker });
}

/** Every figure one run of the deal benchmark measured (also printed, as lines, through `say`). */
export type DealFigures = Awaited<ReturnType<typeof benchDeals>>;

export async function benchDeals(say: (line: string) => void = console.log) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const database = await createScratchDatabase('warden_bench');
  const db = database.db;
  for (const engine of ['GLOBAL', 'BENCH']) {
    await upsertRiskPolicy(
      db,
      { engine, maxDailyLoss: null, maxDailyExposure: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: true },
      'bench',
    );
  }
  await db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();

  const env = await createWardenDevServer();
  const meter = await cpuMeter(db);
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(projectRoot, 'benchmarks', 'workflows.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const taskQueue = 'bench';
  const warden = new WardenClient(env.client, taskQueue);

  const gateTimes = new Map<string, number[]>();
  const base = createActivities({
    db,
    governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPerHour: 1_000_000, maxPer5Min: 1_000_000 },
    controlPlane: warden,
    // No default executor: the deals fill on the bench's own queue.
    executor: createSimulatedExecutor(),
  });
  const timed = Object.fromEntries(
    Object.entries(base).map(([activity, fn]) => [
      activity,
      async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        } finally {
          const list = gateTimes.get(activity) ?? [];
          list.push(performance.now() - started);
          gateTimes.set(activity, list);
        }
      },
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: timed,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentLocalActivityExecutions: 100,
  });

  const results = await worker.runUntil(async () => {
    const runBatch = async (kind: 'bare' | 'governed' | 'strategy' | 'admitted', count: number, prefix: string) => {
      const latencies: number[] = [];
      const started = performance.now();
      const cpu = process.cpuUsage();
      const before = meter?.();
      const outcomes = await pool(count, CONCURRENCY, async (i) => {
        const dealId = `${prefix}-${i}`;
        const t0 = performance.now();
        const input = { dealId, engine: 'BENCH', symbol: `SYM${i % 50}`, amount: 10 };
        if (kind === 'admitted') {
          // The producer's answer by update-with-start: timed to the admission, then the deal runs out.
          const answer = await warden.admitDeal({ ...input, requestedBy: 'bench' });
          latencies.push(performance.now() - t0);
          return (await warden.getDealResult(answer.dealId)) as { status?: string };
        }
        const result =
          kind === 'bare'
            ? await env.client.workflow.execute('bareDeal', {
                taskQueue,
                workflowId: `bare-${dealId}`,
                args: [{ ...input, applyMode: 'live', permitId: 'none' }],
              })
            : await warden.executeDeal({
                ...input,
                requestedBy: 'bench',
                ...(kind === 'strategy' ? { strategyId: 'bench-strategy' } : {}),
              });
        latencies.push(performance.now() - t0);
        return result as { status?: string };
      });
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const after = meter?.();
      return {
        kind,
        count,
        seconds,
        // This process's CPU (worker and clients) per deal: what the worker side of a deal costs.
        cpuPerDeal: (used.user + used.system) / 1000 / count,
        // Every process's: on a machine they share, what bounds deals/s.
        cpu: before && after ? cpuPerDeal(before, after, count) : undefined,
        throughput: count / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        outcomes,
      };
    };
    await runBatch('bare', 20, 'warm-bare');
    await runBatch('governed', 20, 'warm-gov');
    gateTimes.clear();
    const bare = await runBatch('bare', N, 'bare');
    const governed = await runBatch('governed', N, 'gov');
    const loadedGates = new Map(gateTimes);
    // The same gates one deal at a time: their own cost, without CPU queueing.
    gateTimes.clear();
    await pool(50, 1, (i) =>
      warden.executeDeal({ dealId: `solo-${i}`, engine: 'BENCH', symbol: 'SOLO', amount: 1, requestedBy: 'bench' }),
    );
    const soloGates = new Map(gateTimes);
    // The admitted batch below runs under load: its calls go to lists of their own, not into these.
    gateTimes.clear();
    const admitted = await runBatch('admitted', N, 'admit');
    // The same answer when deals arrive at half the governed rate (open loop), not as fast as the server
    // takes them: what admission costs a producer on a busy system, without a saturated server's queue.
    const rate = governed.throughput / 2;
    const pacedLatencies: number[] = [];
    const paced = await Promise.all(
      Array.from({ length: PACED }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * 1000) / rate));
        const t0 = performance.now();
        const input = { dealId: `paced-${i}`, engine: 'BENCH', symbol: `SYM${i % 50}`, amount: 10 };
        const answer = await warden.admitDeal({ ...input, requestedBy: 'bench' });
        pacedLatencies.push(performance.now() - t0);
        return warden.getDealResult(answer.dealId);
      }),
    );
    // The same governed deals with seed 001's strategy gate on (an L4 strategy: all six components run).
    // A new strategy starts at L0; the benchmark seeds its level directly.
    await upsertStrategy(
      db,
      {
        id: 'bench-strategy',
        enabled: true,
        level: 'L0',
        paused: false,
        pausedReason: null,
        capital: 1e9,
        tokenRequired: false,
        healthFloor: 0.25,
      },
      'bench',
      'benchmark',
    );
    await setStrategyLevel(db, { id: 'bench-strategy', to: 'L4', since: new Date() });
    await runBatch('strategy', 20, 'warm-strategy');
    // The strategy deals' calls are theirs alone: the governed figures above stay the governed batch's.
    gateTimes.clear();
    const strategy = await runBatch('strategy', N, 'strategy');
    const strategyGates = new Map(gateTimes);
    return {
      bare,
      governed,
      loadedGates,
      soloGates,
      admitted,
      paced: { rate, latencies: pacedLatencies, executed: paced.filter((r) => r.status === 'executed').length },
      strategy,
      strategyGates,
    };
  });

  const executed = results.governed.outcomes.filter((o) => o.status === 'executed').length;
  say(
    `\ngoverned vs bare deals — ${N} each, concurrency ${CONCURRENCY}, dev server + PostgreSQL, ${process.platform} ${process.arch}`,
  );
  say(
    `  bare:      ${results.bare.throughput.toFixed(1)} deals/s   e2e p50 ${ms(results.bare.p50)}  p99 ${ms(results.bare.p99)}   worker CPU ${ms(results.bare.cpuPerDeal)}/deal`,
  );
  say(
    `  governed:  ${results.governed.throughput.toFixed(1)} deals/s   e2e p50 ${ms(results.governed.p50)}  p99 ${ms(results.governed.p99)}   worker CPU ${ms(results.governed.cpuPerDeal)}/deal   (${executed}/${N} executed)`,
  );
  say(`  ratio:     ${(results.governed.throughput / results.bare.throughput).toFixed(2)} × bare (target ≥ 0.8)`);
  const ceiling = ratioCeiling(results.bare.cpu, results.governed.cpu);
  for (const batch of [results.bare, results.governed])
    if (batch.cpu)
      say(
        `  CPU/deal, ${batch.kind.padEnd(8)} worker ${ms(batch.cpu.worker)} + dev server ${ms(batch.cpu.temporal)} + PostgreSQL ${ms(batch.cpu.postgres)} = ${ms(totalOf(batch.cpu))}`,
      );
  if (ceiling !== undefined)
    say(
      `  ceiling:   ${ceiling.toFixed(2)} × bare if the governed deal's worker cost no more than the bare one's (its server and database CPU as measured)`,
    );
  const notGates = new Set(['executeDeal', 'evaluateStrategyGate', 'recordStrategyOutcome']);
  /** Each gate step's p50/p99 (printed), and all of them together; the strategy's own steps are not gates. */
  const gateTable = (calls: Map<string, number[]>, indent: string) => {
    const rows: Record<string, { p50: number; p99: number; calls: number }> = {};
    for (const [activity, times] of [...calls.entries()].sort()) {
      if (activity === 'executeDeal') continue;
      rows[activity] = { p50: percentile(times, 50), p99: percentile(times, 99), calls: times.length };
      say(
        `${indent}${activity.padEnd(22)} p50 ${ms(percentile(times, 50)).padStart(9)}  p99 ${ms(percentile(times, 99)).padStart(9)}  (${times.length} calls)`,
      );
    }
    const all = [...calls.entries()].filter(([a]) => !notGates.has(a)).flatMap(([, t]) => t);
    return { rows, all };
  };
  say('  gate steps (per call, in the worker):');
  const { rows: gateRows, all: allGates } = gateTable(results.loadedGates, '    ');
  say(
    `    all gate calls         p50 ${ms(percentile(allGates, 50)).padStart(9)}  p99 ${ms(percentile(allGates, 99)).padStart(9)}  (target p99 ≤ 25 ms)`,
  );
  say('  unloaded (1 deal at a time, 50 deals):');
  const { all: solo } = gateTable(results.soloGates, '    ');
  say(
    `    all gate calls         p50 ${ms(percentile(solo, 50)).padStart(9)}  p99 ${ms(percentile(solo, 99)).padStart(9)}`,
  );
  say(
    `  with the strategy gate on: ${results.strategy.throughput.toFixed(1)} deals/s, ratio ${(results.strategy.throughput / results.bare.throughput).toFixed(2)} × bare; its steps:`,
  );
  const { all: strategyAll } = gateTable(results.strategyGates, '    ');
  say(
    `    all gate calls         p50 ${ms(percentile(strategyAll, 50)).padStart(9)}  p99 ${ms(percentile(strategyAll, 99)).padStart(9)}`,
  );

  say(
    `  admission answer (admitDeal): p50 ${ms(results.admitted.p50)}  p99 ${ms(results.admitted.p99)} at concurrency ${CONCURRENCY}; p50 ${ms(percentile(results.paced.latencies, 50))}  p99 ${ms(percentile(results.paced.latencies, 99))} at ${results.paced.rate.toFixed(1)} deals/s (${PACED} deals, ${results.paced.executed} executed)`,
  );

  // 1,000 reserves racing for one engine's open-risk cap.
  const cap = 5000;
  const amount = 7;
  await upsertRiskPolicy(
    db,
    {
      engine: 'RACE',
      maxDailyLoss: null,
      maxDailyExposure: null,
      maxOpenRisk: cap,
      maxActionsPerDay: null,
      enabled: true,
    },
    'bench',
  );
  const raceStart = performance.now();
  const decisions = await Promise.all(
    Array.from({ length: RESERVES }, (_, i) =>
      reserveExposure(db, { key: `race-${i}`, engine: 'RACE', amount, actor: 'bench' }),
    ),
  );
  const raceSeconds = (performance.now() - raceStart) / 1000;
  const ok = decisions.filter((d) => d.ok).length;
  const row = await db
    .selectFrom('risk_ledger_day')
    .select('open_risk_reserved')
    .where('engine', '=', 'RACE')
    .executeTakeFirstOrThrow();
  const overCommit = Math.max(0, row.open_risk_reserved - cap);
  say(`\n${RESERVES} concurrent reserves on one cap (cap ${cap}, ${amount} each):`);
  say(
    `  ${(RESERVES / raceSeconds).toFixed(0)} reserves/s, ${ok} granted (affordable: ${Math.floor(cap / amount)}), reserved ${row.open_risk_reserved}, over-commit ${overCommit}`,
  );

  const figures = {
    deals: N,
    concurrency: CONCURRENCY,
    bare: {
      throughput: results.bare.throughput,
      p50: results.bare.p50,
      p99: results.bare.p99,
      cpuPerDeal: results.bare.cpuPerDeal,
    },
    governed: {
      throughput: results.governed.throughput,
      p50: results.governed.p50,
      p99: results.governed.p99,
      cpuPerDeal: results.governed.cpuPerDeal,
    },
    ratio: results.governed.throughput / results.bare.throughput,
    ratioCeiling: ceiling,
    cpu: { bare: results.bare.cpu, governed: results.governed.cpu },
    gates: gateRows,
    gatesLoaded: { p50: percentile(allGates, 50), p99: percentile(allGates, 99) },
    gatesUnloaded: { p50: percentile(solo, 50), p99: percentile(solo, 99) },
    strategyGate: {
      throughput: results.strategy.throughput,
      ratio: results.strategy.throughput / results.bare.throughput,
      // The gate itself is decided inside admitDeal since deal-generation-2026-12-admission.
      gatesLoaded: { p50: percentile(strategyAll, 50), p99: percentile(strategyAll, 99) },
    },
    race: { reserves: RESERVES, perSecond: RESERVES / raceSeconds, granted: ok, overCommit },
    admission: { p50: results.admitted.p50, p99: results.admitted.p99, answeredAt: 'admitDeal, update-with-start' },
    admissionPaced: {
      perSecond: results.paced.rate,
      p50: percentile(results.paced.latencies, 50),
      p99: percentile(results.paced.latencies, 99),
    },
  };
  say(`\nJSON ${JSON.stringify(figures)}`);

  await env.teardown();
  await database.drop();
  return figures;
}

// Run directly (`npm run bench:deals`); `npm run bench` imports it.
if (require.main === module) runBenchmark(benchDeals);
