// Warden as `npm start` runs it: workers/local.ts as a child process, with its
// embedded dev server and PGlite under a scratch data folder. Only the ports
// move (so a run never collides with a Warden already on this machine); every
// other setting is the default, whatever the caller's environment holds.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../../src/config/paths';
import { connectLocalOps } from '../../src/operator/cli/local-ops';
import { freePort } from './cluster';

export interface LocalWarden {
  dataDir: string;
  logFile: string;
  apiUrl: string;
  metricsUrl: string;
  temporalAddress: string;
  /** The local.ts Node process (worker, API, local ops: one process). */
  pid: number;
  /** The dev server local.ts started (its child), once found. */
  devServerPid(): number | undefined;
  /** An operation run as the local owner through the local ops endpoint, as `warden` without a key does. */
  asLocalOwner<T>(name: string, input: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** The settings `npm start` reads that the harness may not inherit: the run is on the defaults. */
const OVERRIDES = /^(WARDEN_|TEMPORAL_|DATABASE_URL$)/;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .split(' ')
        .filter((p) => p.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** VmRSS of a process in bytes (undefined once it is gone). */
export function rssBytes(pid: number): number | undefined {
  try {
    const line = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes on disk under a folder (what `du -sb` counts for regular files). */
export function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

export async function startLocalWarden(options: {
  dataDir: string;
  /** Node flags for the local.ts process, e.g. --heapsnapshot-signal=SIGUSR2 to look for a leak. */
  nodeArgs?: string[];
}): Promise<LocalWarden> {
  const [temporalPort, uiPort, apiPort, metricsPort, workerMetricsPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OVERRIDES.test(name)));
  const env: Record<string, string | undefined> = {
    ...inherited,
    WARDEN_DATA_DIR: options.dataDir,
    WARDEN_TEMPORAL_PORT: String(temporalPort),
    WARDEN_UI_PORT: String(uiPort),
    WARDEN_API_PORT: String(apiPort),
    WARDEN_METRICS_PORT: String(metricsPort),
    WARDEN_WORKER_METRICS_PORT: String(workerMetricsPort),
  };
  const logFile = path.join(options.dataDir, 'local.log');
  const log = openSync(logFile, 'a');
  // What scripts/start.mjs runs, after set-up.
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(projectRoot, 'workers', 'local.ts')],
    { cwd: projectRoot, env, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const pid = child.pid!;
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited(child);
    clearTimeout(timer);
  };

  // Up once the API answers and the local ops endpoint is published (both come after the worker runs).
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`workers/local.ts exited before it was up (log: ${logFile})`);
    const ops = connectLocalOps(options.dataDir);
    const healthy = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy && ops?.pid === pid) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`workers/local.ts was not up within 180 s (log: ${logFile})`);
    }
    await sleep(500);
  }
  const ops = connectLocalOps(options.dataDir)!;

  return {
    dataDir: options.dataDir,
    logFile,
    apiUrl,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    temporalAddress: `127.0.0.1:${temporalPort}`,
    pid,
    devServerPid: () => childPids(pid).find((p) => commandOf(p).includes('start-dev')),
    async asLocalOwner<T>(name: string, input: unknown): Promise<T> {
      const response = await fetch(`${ops.url}/operations/${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
      const body = (await response.json()) as T & { message?: string };
      if (!response.ok) throw new Error(`local ops ${name}: HTTP ${response.status}: ${body.message ?? ''}`);
      return body;
    },
    stop,
  };
}
