// `npm run chaos`: the reliability harness at full size, each scenario on a
// cluster of its own (dev server, PostgreSQL, production workers as
// processes). CHAOS_ONLY=load,kill-switch picks scenarios. One table, one JSON
// summary (.data/reliability/chaos.json); exit code 1 if any verdict failed.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { runLongLived } from './long-lived';
import { type Cluster, type ClusterOptions, startCluster, TASK_QUEUE } from './lib/cluster';
import { report, RESULTS_DIR } from './lib/report';
import type { ScenarioResult } from './lib/scenario';
import { runApprovals } from './scenarios/approvals';
import { runKillSwitch } from './scenarios/kill-switch';
import { runLoad } from './scenarios/load';
import { runScaleOut } from './scenarios/scale-out';

const RATE_LIMIT = 60;

interface Scenario {
  name: string;
  cluster?: Partial<ClusterOptions>;
  run(cluster: Cluster): Promise<ScenarioResult>;
}

const SCENARIOS: Scenario[] = [
  { name: 'load', run: (c) => runLoad(c, { deals: 1000, concurrency: 100, faults: false }) },
  { name: 'load+faults', run: (c) => runLoad(c, { deals: 1000, concurrency: 100, faults: true }) },
  { name: 'kill-switch', run: (c) => runKillSwitch(c, { deals: 200, repeats: 5, concurrency: 100 }) },
  { name: 'approvals', run: (c) => runApprovals(c, { requests: 100, restartWorker: true }) },
  {
    name: 'long-lived',
    async run(c) {
      const figures = await runLongLived({
        client: c.client,
        taskQueue: TASK_QUEUE,
        db: c.db,
        controlPlaneSignals: 25_000,
        proposalSignals: 5_000,
        proposalId: `expansion-reliability-${randomUUID()}`,
      });
      const flat: Record<string, number> = { seconds: figures.seconds };
      for (const [workflow, f] of [
        ['control plane', figures.controlPlane],
        ['proposal', figures.proposal],
      ] as const) {
        flat[`${workflow}: signals sent`] = f.signalsSent;
        flat[`${workflow}: signals recorded`] = f.signalsRecorded;
        flat[`${workflow}: signals missing`] = f.signalsMissing;
        flat[`${workflow}: signals recorded twice`] = f.signalsDuplicated;
        flat[`${workflow}: runs`] = f.runs;
        flat[`${workflow}: max events per run`] = f.maxEventsPerRun;
        flat[`${workflow}: refused by back-pressure`] = f.refusedByBackpressure;
        flat[`${workflow}: dropped`] = f.dropped;
      }
      const failures = [
        ...figures.controlPlane.stateChecks.failed.map((f) => `control plane: ${f}`),
        ...figures.proposal.stateChecks.failed.map((f) => `proposal: ${f}`),
      ];
      if (!figures.ok && failures.length === 0) failures.push('long-lived verdict failed (see figures)');
      return { name: 'long-lived', passed: figures.ok, figures: flat, failures };
    },
  },
  {
    name: 'scale-out',
    cluster: { workers: 2, env: { WARDEN_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) } },
    run: (c) =>
      runScaleOut(c, {
        rateLimitPerMinute: RATE_LIMIT,
        killSwitch: { deals: 200, repeats: 3, concurrency: 100 },
        load: { deals: 1000, concurrency: 100, faults: false },
      }),
  },
];

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const only = process.env.CHAOS_ONLY?.split(',').map((s) => s.trim());
  const chosen = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  if (only && chosen.length !== only.length)
    throw new Error(`CHAOS_ONLY names unknown scenarios; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const runDir = path.join(RESULTS_DIR, `run-${new Date().toISOString().replaceAll(':', '-')}`);
  mkdirSync(runDir, { recursive: true });
  const results: ScenarioResult[] = [];
  const started = Date.now();
  for (const scenario of chosen) {
    console.log(`\n▶ ${scenario.name}`);
    const t0 = Date.now();
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster({ dir: path.join(runDir, scenario.name), ...scenario.cluster });
      const result = await scenario.run(cluster);
      results.push({
        ...result,
        name: scenario.name,
        figures: { ...result.figures, 'wall s': (Date.now() - t0) / 1000 },
      });
    } catch (error) {
      results.push({
        name: scenario.name,
        passed: false,
        figures: { 'wall s': (Date.now() - t0) / 1000 },
        failures: [`the scenario could not finish: ${error instanceof Error ? error.message : String(error)}`],
      });
    } finally {
      await cluster?.stop();
    }
    // Each verdict as it comes, and kept in its scenario's directory: a run stopped later still says why.
    const result = results.at(-1)!;
    console.log(`  ${result.passed ? 'pass' : 'FAIL'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const failure of result.failures.slice(0, 5)) console.log(`    ${failure}`);
    const dir = path.join(runDir, scenario.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  }
  const passed = report('chaos', results, { seconds: (Date.now() - started) / 1000, logs: runDir });
  return passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
