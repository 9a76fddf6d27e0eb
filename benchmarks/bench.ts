// `npm run bench`: every figure of issue 16 from one run, side by side with its
// target — the deal benchmark (benchmarks/deals.ts), pgbench's capped update of
// one row at the reserves' concurrency, `warden status` next to `temporal
// workflow query` on the same workflow, a worker's start to its first task, and
// a second `npm start` until it serves. Prints one table, writes
// .data/bench.json; asserts nothing (targets are read, never enforced).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { WardenClient } from '../src/client';
import { projectRoot, toolPaths, workflowSource } from '../src/config/paths';
import { DEFAULT_GOVERNOR_SETTINGS } from '../src/domain/permits/rules';
import { CONTROL_PLANE_WORKFLOW_ID } from '../workflows/names';
import { controlPlaneStateQuery } from '../workflows/messages';
import { createScratchDatabase, percentile, serveCliApi, createWardenDevServer } from '../test/support/processes';
import { benchDeals } from './deals';
import { runBenchmark } from './run';

/** The connections the reserves race on: the pool's size (src/db/connect.ts). */
const RESERVE_CONCURRENCY = 20;
const REPEATS = 10;

const median = (values: number[]) => percentile(values, 50);

/** Wall time of a command, in ms, the median of REPEATS runs; it must succeed. Never blocks this process (it serves the API). */
async function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(command, args, { env, cwd: projectRoot });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${output}`);
    runs.push(performance.now() - started);
  }
  return median(runs);
}

/** pgbench's capped UPDATE + INSERT on one row, `clients` at once: transactions per second. */
function pgbenchSingleRow(url: string, clients: number): number {
  const bin = ['/usr/lib/postgresql/15/bin/pgbench', '/usr/lib/postgresql/16/bin/pgbench', 'pgbench'].find(
    (candidate) => spawnSync(candidate, ['--version']).status === 0,
  );
  if (bin === undefined) throw new Error('pgbench not found (it comes with the PostgreSQL set-up installs)');
  const psql = path.join(path.dirname(bin), 'psql');
  execFileSync(psql, [
    url,
    '-qc',
    'drop table if exists bench_row, bench_event; create table bench_row (id int primary key, reserved bigint not null); insert into bench_row values (1, 0); create table bench_event (id bigserial primary key, amount int not null);',
  ]);
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-pgbench-'));
  const script = path.join(dir, 'reserve.sql');
  writeFileSync(
    script,
    'update bench_row set reserved = reserved + 7 where id = 1 and reserved + 7 <= 9000000000;\ninsert into bench_event (amount) values (7);\n',
  );
  const out = execFileSync(bin, ['-n', '-c', String(clients), '-j', '2', '-T', '10', '-f', script, url], {
    encoding: 'utf8',
  });
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!tps) throw new Error(`pgbench printed no tps: ${out}`);
  return Number(tps[1]);
}

/** `npm start` twice on a scratch data dir (embedded PGlite): the second one's time until /health answers, in ms. */
async function secondStart(): Promise<number> {
  const data = mkdtempSync(path.join(tmpdir(), 'warden-start-'));
  const { DATABASE_URL: _ours, ...inherited } = process.env;
  const once = async () => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'start.mjs')], {
      cwd: projectRoot,
      env: { ...inherited, WARDEN_DATA_DIR: data },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let gone = false;
    void exited.then(() => (gone = true));
    try {
      for (;;) {
        if (gone) throw new Error('npm start exited before it served');
        if (performance.now() - started > 120_000) throw new Error('npm start did not serve within 120 s');
        const ok = await fetch('http://127.0.0.1:8080/health').then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return performance.now() - started;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      // start.mjs hands SIGTERM to Warden, which stops cleanly (a terminal's Ctrl-C reaches both at once).
      if (!gone) child.kill('SIGTERM');
      await exited;
    }
  };
  await once();
  return once();
}

async function main(): Promise<void> {
  // The deal benchmark installs the SDK's runtime (its logger) for the whole process.
  const lines: string[] = [];
  const deals = await benchDeals((line) => lines.push(line));
  const pgbench = pgbenchSingleRow(process.env.DATABASE_URL!, RESERVE_CONCURRENCY);

  // `warden status` against `temporal workflow query`, on one control plane served by one worker.
  const database = await createScratchDatabase('warden_bench_cli');
  const env = await createWardenDevServer();
  const taskQueue = 'warden';
  const warden = new WardenClient(env.client, taskQueue);
  const activities = createActivities({ db: database.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden });
  // A worker's start to its first task: created from the prebuilt bundle, until the control plane answers.
  const startedAt = performance.now();
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, activities, ...workflowSource() });
  const cli = await worker.runUntil(async () => {
    await warden.ensureControlPlane();
    // Its first task reads the persisted state; the query answers once that has loaded.
    const handle = env.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID);
    while (
      !(await handle.query(controlPlaneStateQuery).then(
        () => true,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 20));
    const firstTask = performance.now() - startedAt;
    // The CLI as an operator runs it: through the operator API, as its key's identity.
    const api = await serveCliApi({ db: database.db, client: env.client, taskQueue });
    const key = await api.key('bench', ['owner']);
    const status = await timed(process.execPath, [path.join(projectRoot, 'bin', 'warden.cjs'), 'status'], {
      ...process.env,
      WARDEN_API_URL: api.url,
      WARDEN_API_KEY: key,
    });
    await api.close();
    const query = await timed(
      toolPaths.temporal,
      ['workflow', 'query', '--address', env.address, '--workflow-id', CONTROL_PLANE_WORKFLOW_ID, '--type', 'state'],
      process.env,
    );
    return { firstTask, status, query };
  });
  await env.teardown();
  await database.drop();
  const restart = await secondStart();

  // A figure without a target (met undefined) is there to read the others by.
  const rows: [string, string, string, boolean | undefined][] = [
    [
      'governed ÷ bare deals/s, concurrency 20',
      `${deals.ratio.toFixed(2)} (${deals.governed.throughput.toFixed(1)} ÷ ${deals.bare.throughput.toFixed(1)})`,
      '≥ 0.8',
      deals.ratio >= 0.8,
    ],
    [
      'ceiling of that ratio here: a worker as cheap as bare, server and database CPU as measured',
      deals.ratioCeiling === undefined ? 'n/a (no /proc)' : deals.ratioCeiling.toFixed(2),
      '—',
      undefined,
    ],
    [
      'all gate calls p50 / p99 under that load',
      `${deals.gatesLoaded.p50.toFixed(1)} / ${deals.gatesLoaded.p99.toFixed(1)} ms`,
      'p99 ≤ 25 ms',
      deals.gatesLoaded.p99 <= 25,
    ],
    [
      'gate calls p50 / p99 unloaded',
      `${deals.gatesUnloaded.p50.toFixed(1)} / ${deals.gatesUnloaded.p99.toFixed(1)} ms`,
      'p99 ≤ 5 ms',
      deals.gatesUnloaded.p99 <= 5,
    ],
    [
      `admission answer p50 / p99 (${deals.admission.answeredAt})`,
      `${deals.admission.p50.toFixed(0)} / ${deals.admission.p99.toFixed(0)} ms`,
      'p99 ≤ 50 ms',
      deals.admission.p99 <= 50,
    ],
    [
      `admission answer p50 / p99 at half that rate (${deals.admissionPaced.perSecond.toFixed(1)} deals/s, open loop)`,
      `${deals.admissionPaced.p50.toFixed(0)} / ${deals.admissionPaced.p99.toFixed(0)} ms`,
      'p99 ≤ 50 ms',
      deals.admissionPaced.p99 <= 50,
    ],
    [
      `reserves/s, ${deals.race.reserves} racing on one cap ÷ pgbench one row, ${RESERVE_CONCURRENCY} clients`,
      `${(deals.race.perSecond / pgbench).toFixed(2)} (${deals.race.perSecond.toFixed(0)} ÷ ${pgbench.toFixed(0)}), over-commit ${deals.race.overCommit}`,
      '≥ 1.0, over-commit 0',
      deals.race.perSecond / pgbench >= 1 && deals.race.overCommit === 0,
    ],
    [
      '`warden status` ÷ `temporal workflow query`',
      `${(cli.status / cli.query).toFixed(1)} (${cli.status.toFixed(0)} ÷ ${cli.query.toFixed(0)} ms)`,
      '≤ 3',
      cli.status / cli.query <= 3,
    ],
    ['worker start to first task', `${cli.firstTask.toFixed(0)} ms`, '—', undefined],
    ['a second `npm start` until it serves', `${(restart / 1000).toFixed(1)} s`, '≤ 5 s', restart <= 5000],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => String(r[c]).length), 6));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c] ?? 0)).join('  ');
  console.log(`\nnpm run bench — ${process.platform} ${process.arch}, dev server + PostgreSQL, one run\n`);
  console.log(line(['figure', 'measured', 'target', 'met']));
  for (const r of rows) console.log(line([r[0], r[1], r[2], r[3] === undefined ? '—' : r[3] ? 'yes' : 'no']));
  const out = path.join(projectRoot, '.data');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'bench.json'),
    `${JSON.stringify({ at: new Date().toISOString(), deals, pgbench: { clients: RESERVE_CONCURRENCY, tps: pgbench }, cli, secondStartMs: restart }, null, 2)}\n`,
  );
  console.log('\nwritten to .data/bench.json; the deal benchmark in full:');
  for (const l of lines) console.log(l);
}

runBenchmark(main);
