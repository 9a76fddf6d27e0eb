// The harness's deployment: a dev server (state file kept across a kill), a
// throwaway PostgreSQL it may crash, and Warden's production worker
// (workers/main.ts) as separate processes, each serving the API. Every part
// can be killed and restarted while traffic runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { startPostgres, type ThrowawayPostgres } from '../../scripts/postgres.mjs';
import { WardenClient } from '../../src/client';
import { isFresh } from '../../bin/built.cjs';
import { projectRoot, workflowsEntry } from '../../src/config/paths';
import { createApiKey } from '../../src/db/api-keys.repository';
import { openDatabase } from '../../src/db/connect';
import type { Database } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrate';
import type { Role } from '../../src/domain/identity/roles';
import { type DevServer, startDevServer } from '../../src/temporal/dev-server';

export const TASK_QUEUE = 'warden';
export const NAMESPACE = 'default';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Retries `task` through a restart of Temporal or PostgreSQL: the harness must outlast what it breaks. */
export async function persistently<T>(task: () => Promise<T>, what: string, withinMs = 120_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${withinMs} ms`, { cause: error });
      await sleep(Math.min(2_000, 100 * attempt));
    }
  }
}

export interface WorkerProcess {
  name: string;
  apiUrl: string;
  metricsUrl: string;
  pid(): number | undefined;
  /** SIGKILL: no shutdown, in-flight tasks are lost to their timeouts. */
  kill(): Promise<void>;
  /** Starts the process again (after a kill) and waits until its API answers. */
  start(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Where logs, the dev server's state file and the workflow bundle go. */
  dir: string;
  /** Worker processes at start (each serves the API and metrics on its own ports). */
  workers?: number;
  /** Extra WARDEN_* settings for the workers. */
  env?: Record<string, string>;
  /** Extra `temporal server start-dev` flags. */
  devServerArgs?: string[];
}

export interface Cluster {
  dir: string;
  temporalAddress: string;
  databaseUrl: string;
  /** The harness's own connections (they reconnect after a restart). */
  client: Client;
  warden: WardenClient;
  db: Kysely<Database>;
  workers: WorkerProcess[];
  addWorker(): Promise<WorkerProcess>;
  /** An API key for `identity` with `roles`, made with the repository (as `warden keys create` does). */
  apiKey(identity: string, roles: Role[]): Promise<string>;
  /** `pg_ctl -m immediate stop`, `downMs` of outage, start again (crash recovery). */
  crashPostgres(downMs?: number): Promise<void>;
  /** SIGKILL the dev server, `downMs` of outage, start it again on its state file and port. */
  restartTemporal(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function waitForHealth(url: string, child: () => ChildProcess | undefined, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = child();
    if (!c || c.exitCode !== null || c.signalCode !== null)
      throw new Error(`worker exited before serving ${url} (log: ${logFile})`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`worker did not serve ${url} within 120 s (log: ${logFile})`);
    await sleep(200);
  }
}

/** Builds the workflow bundle once, so each worker start (and restart) skips webpack. */
async function prebuiltBundle(dir: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsEntry,
    logger: { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: console.error },
  });
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, code);
  return file;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  mkdirSync(options.dir, { recursive: true });
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const step of stops.splice(0).reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    const [postgres, bundleFile, temporalPort, uiPort] = await Promise.all([
      startPostgres() as Promise<ThrowawayPostgres>,
      prebuiltBundle(options.dir),
      freePort(),
      freePort(),
    ]);
    stops.push(() => postgres.stop());
    const devServerOptions = {
      dbFile: path.join(options.dir, 'temporal.sqlite'),
      port: temporalPort,
      uiPort,
      extraArgs: options.devServerArgs ?? [],
    };
    let devServer: DevServer = await startDevServer(devServerOptions);
    stops.push(() => devServer.stop());
    const temporalAddress = devServer.address;

    const database = await openDatabase({ databaseUrl: postgres.url, dataDir: options.dir });
    stops.push(() => database.close());
    await migrateToLatest(database.db);
    const connection = await Connection.connect({ address: temporalAddress });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: NAMESPACE });
    const warden = new WardenClient(client, TASK_QUEUE);

    const workers: WorkerProcess[] = [];
    const addWorker = async (): Promise<WorkerProcess> => {
      const name = `worker-${workers.length + 1}`;
      const [apiPort, metricsPort] = await Promise.all([freePort(), freePort()]);
      const logFile = path.join(options.dir, `${name}.log`);
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        DATABASE_URL: postgres.url,
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_NAMESPACE: NAMESPACE,
        WARDEN_TASK_QUEUE: TASK_QUEUE,
        WARDEN_API_PORT: String(apiPort),
        WARDEN_METRICS_PORT: String(metricsPort),
        WARDEN_WORKER_METRICS_PORT: '0',
        WARDEN_WORKFLOW_BUNDLE: bundleFile,
        WARDEN_DATA_DIR: options.dir,
        WARDEN_ENV: 'chaos',
        // The permit governor's hourly caps are for people; the harness measures the money gates.
        WARDEN_PERMIT_MAX_PER_HOUR: '1000000',
        WARDEN_PERMIT_MAX_PER_5MIN: '1000000',
        WARDEN_KILL_SWITCH_COOLDOWN: '0s',
        ...options.env,
      };
      let child: ChildProcess | undefined;
      const worker: WorkerProcess = {
        name,
        apiUrl: `http://127.0.0.1:${apiPort}`,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        pid: () => child?.pid,
        async start() {
          const log = openSync(logFile, 'a');
          // The production worker as set-up compiled it, or its TypeScript when a source is newer.
          const program = isFresh('dist/worker.cjs')
            ? [path.join(projectRoot, 'dist', 'worker.cjs')]
            : ['--import', 'tsx', path.join(projectRoot, 'workers', 'main.ts')];
          child = spawn(process.execPath, program, {
            cwd: projectRoot,
            env,
            stdio: ['ignore', log, log],
          });
          closeSync(log);
          await waitForHealth(worker.apiUrl, () => child, logFile);
        },
        async kill() {
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGKILL');
          await exited(child);
        },
        async stop() {
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child?.kill('SIGKILL'), 15_000);
          await exited(child);
          clearTimeout(timer);
        },
      };
      workers.push(worker);
      stops.push(() => worker.stop());
      await worker.start();
      return worker;
    };
    for (let i = 0; i < (options.workers ?? 1); i++) await addWorker();

    return {
      dir: options.dir,
      temporalAddress,
      databaseUrl: postgres.url,
      client,
      warden,
      db: database.db,
      workers,
      addWorker,
      async apiKey(identity, roles) {
        const { key } = await createApiKey(database.db, { identity, roles, actor: 'reliability-harness' });
        return key;
      },
      async crashPostgres(downMs = 2_000) {
        postgres.crash();
        await sleep(downMs);
        postgres.resume();
      },
      async restartTemporal(downMs = 2_000) {
        await devServer.kill();
        await sleep(downMs);
        devServer = await startDevServer(devServerOptions);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
