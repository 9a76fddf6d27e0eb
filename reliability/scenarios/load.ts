// Issue 15 items 1 and 2: deals across WHOLESALE and CAPITAL (both reserving
// against GLOBAL) against the seed caps, at a fixed start concurrency, with
// worker SIGKILLs, a PostgreSQL crash and a Temporal restart spread over the
// run. The verdicts (lib/verdicts.ts) read the workflows' results, the
// database's rows and the recording executor's file, never Warden's counters.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DealInput } from '../../src/domain/deals/types';
import { armForLive } from '../lib/arm';
import { type Cluster, NAMESPACE, persistently, type WorkerProcess } from '../lib/cluster';
import { driveDeals, type SentDeal } from '../lib/deals';
import { EXECUTOR_TASK_QUEUE, startRecordingExecutor } from '../lib/recording-executor';
import type { ScenarioResult } from '../lib/scenario';
import { loadVerdicts } from '../lib/verdicts';

export type Fault = 'worker' | 'postgres' | 'temporal';

/** Item 2's faults: the worker SIGKILLed 3 times, PostgreSQL crashed once, Temporal killed once, interleaved. */
export const FULL_FAULTS: Fault[] = ['worker', 'postgres', 'worker', 'temporal', 'worker'];

export interface LoadOptions {
  deals: number;
  concurrency: number;
  /** true: FULL_FAULTS; false: none; or the faults to inject, in order. */
  faults: boolean | Fault[];
  /** How long each fill takes at the executor; default 50-350 ms, so deals are in flight when a fault lands. */
  executorFillMs?: number;
  /** The deal plan's seed, so a failing run can be repeated. */
  seed?: number;
  /** How long one deal may take before it counts as stuck (default 600 s). */
  dealWithinMs?: number;
}

/** A small deterministic PRNG (mulberry32): the same seed, the same plan. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const toCents = (n: number) => Math.round(n * 100) / 100;

interface PlannedDeal {
  input: DealInput & { amount: number };
  /** What the executor books as the fill's realized loss. */
  loss: number;
}

/**
 * The plan against seed 000's caps (GLOBAL 1500 exposure / 250 loss,
 * WHOLESALE 1000 / 200 / 500 open, CAPITAL 750 / 150 / 300 open): mostly
 * small tickets, together about twice GLOBAL's day, so the caps are reached
 * part-way through; a few large ones (3 %), which meet the
 * open-risk caps while others are in flight; CAPITAL fills lose a third of
 * their amount and WHOLESALE fills a tenth, so the loss caps close the day
 * for an engine (and GLOBAL) while exposure is left.
 */
export function planDeals(count: number, seed: number, runTag: string): PlannedDeal[] {
  const random = prng(seed);
  // The small tickets ask for about twice GLOBAL's day in all, whatever the count, so the caps are met mid-run.
  const smallMean = (2.2 * 1500) / count;
  return Array.from({ length: count }, (_, i) => {
    const engine = random() < 0.55 ? 'WHOLESALE' : 'CAPITAL';
    const large = random() < 0.03;
    const amount = toCents(large ? 60 + random() * 160 : smallMean * (0.2 + 1.6 * random()));
    const loss = toCents(amount * (engine === 'CAPITAL' ? 0.34 : 0.1));
    return {
      input: {
        dealId: `load-${runTag}-${i}`,
        engine,
        symbol: `${engine === 'CAPITAL' ? 'CAP' : 'WHS'}-${i % 7}`,
        amount,
        requestedBy: 'reliability-load',
        executorTaskQueue: EXECUTOR_TASK_QUEUE,
      },
      loss,
    };
  });
}

interface FaultRecord {
  fault: Fault;
  atDeal: number;
  tookMs: number;
}

/**
 * Injects each fault once the given share of deals has an outcome, so they
 * land spread over the busy part of the run whatever its pace. One at a time:
 * a fault's outage ends (the part restarted and healthy) before the next.
 */
async function injectFaults(
  cluster: Cluster,
  faults: Fault[],
  total: number,
  done: () => number,
  stopped: () => boolean,
  killing: Set<WorkerProcess>,
): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  let workerTurn = 0;
  for (const [i, fault] of faults.entries()) {
    // Between 10 % and 70 % of the deals: executions and denials both in flight.
    const threshold = Math.floor(total * (0.1 + (0.6 * i) / Math.max(1, faults.length - 1)));
    while (done() < threshold && !stopped()) await sleep(50);
    if (stopped()) break;
    const started = Date.now();
    if (fault === 'worker') {
      const worker = cluster.workers[workerTurn++ % cluster.workers.length]!;
      killing.add(worker);
      try {
        await worker.kill();
        await worker.start();
      } finally {
        killing.delete(worker);
      }
    } else if (fault === 'postgres') await cluster.crashPostgres(2_000);
    else await cluster.restartTemporal(2_000);
    records.push({ fault, atDeal: done(), tookMs: Date.now() - started });
  }
  return records;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A worker that dies when no fault asked it to is a finding (a crash): it is
 * recorded, and started again so the run can still answer for every deal.
 */
async function watchWorkers(
  cluster: Cluster,
  killing: Set<WorkerProcess>,
  stopped: () => boolean,
  crashes: string[],
): Promise<void> {
  while (!stopped()) {
    for (const worker of cluster.workers) {
      if (killing.has(worker) || alive(worker.pid())) continue;
      crashes.push(`worker crash: ${worker.name} died unasked (see ${worker.name}.log in ${cluster.dir})`);
      await worker
        .start()
        .catch((error: unknown) => crashes.push(`${worker.name} did not start again: ${String(error)}`));
    }
    await sleep(500);
  }
}

export async function runLoad(cluster: Cluster, options: LoadOptions): Promise<ScenarioResult> {
  const faults = options.faults === true ? FULL_FAULTS : options.faults === false ? [] : options.faults;
  const name = faults.length > 0 ? 'load+faults' : 'load';
  const seed = options.seed ?? 15;
  const plan = planDeals(options.deals, seed, `${seed}-${Date.now().toString(36)}`);
  const lossByDeal = new Map(plan.map((p) => [p.input.dealId, p.loss]));
  const lossOf = (deal: { dealId: string }) => lossByDeal.get(deal.dealId) ?? 0;

  await persistently(() => armForLive(cluster), 'arm for live');
  const executor = await startRecordingExecutor({
    address: cluster.temporalAddress,
    namespace: NAMESPACE,
    file: path.join(cluster.dir, `load-executor-${Date.now()}.jsonl`),
    fillMs: () => options.executorFillMs ?? 50 + Math.floor(Math.random() * 300),
    lossOf,
  });
  try {
    let done = 0;
    let finished = false;
    const started = Date.now();
    const killing = new Set<WorkerProcess>();
    const crashes: string[] = [];
    const faulting = injectFaults(
      cluster,
      faults,
      plan.length,
      () => done,
      () => finished,
      killing,
    );
    const watching = watchWorkers(cluster, killing, () => finished, crashes);
    let deals: SentDeal[];
    try {
      deals = await driveDeals(
        cluster,
        plan.map((p) => p.input),
        {
          concurrency: options.concurrency,
          ...(options.dealWithinMs === undefined ? {} : { withinMs: options.dealWithinMs }),
          onOutcome: () => void (done += 1),
        },
      );
    } finally {
      finished = true;
    }
    const elapsedMs = Date.now() - started;
    const injected = await faulting;
    await watching;

    const verdicts = await persistently(
      () => loadVerdicts({ db: cluster.db, deals, calls: executor.calls(), lossOf }),
      'read the verdicts',
      30_000,
    );
    const failures = [...crashes, ...verdicts.failures];
    if (injected.length < faults.length)
      failures.push(`faults: ${injected.length} of ${faults.length} injected before the load ended`);
    const count = (fault: Fault) => injected.filter((r) => r.fault === fault).length;
    return {
      name,
      passed: failures.length === 0,
      figures: {
        concurrency: options.concurrency,
        seed,
        ...verdicts.figures,
        'faults: worker SIGKILL+restart': count('worker'),
        'faults: PostgreSQL crash': count('postgres'),
        'faults: Temporal kill+restart': count('temporal'),
        'worker crashes (unasked)': crashes.length,
        'faults at deal':
          injected.map((r) => `${r.fault}@${r.atDeal} (${(r.tookMs / 1000).toFixed(1)} s)`).join(', ') || 'none',
        'time (s)': elapsedMs / 1000,
        'deals/s': deals.length / (elapsedMs / 1000),
      },
      failures,
    };
  } finally {
    await executor.stop();
  }
}
