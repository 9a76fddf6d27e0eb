import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { toolPaths } from '../config/paths';
import { searchAttributeArgs } from './search-attributes';

/**
 * Server limits Warden runs with, the same for the dev server (flags below) and the production-like
 * stack (infra/temporal/dynamicconfig/warden.yaml, checked against this by a test). A burst of signals
 * to one workflow is buffered while its task runs; past 100 events or 2 MiB (the defaults) the server
 * force-fails that task to flush them. Signals are up to 2 MiB each (limit.blobSize.error, kept), so a
 * flood of small ones could fail the control plane's task at will: the buffer holds more events here.
 * Its byte bound stays at 2 MiB: buffered signals are written in one transaction, which the server caps at
 * 4 MiB, so a larger buffer would refuse signals outright instead of flushing them. Temporal Cloud keeps its own limits; a forced task is retried there, nothing is lost.
 */
export const SERVER_LIMITS: Readonly<Record<string, number>> = {
  'history.maximumBufferedEventsBatch': 2_000,
};

/** SERVER_LIMITS as `temporal server start-dev` flags. */
function serverLimitArgs(): string[] {
  return Object.entries(SERVER_LIMITS).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]);
}

/**
 * Every `start-dev` flag a Warden dev server needs: its limits, Warden's search attributes (registered
 * at every start, in every namespace, so a state file from before has them too) and extra namespaces.
 */
export function devServerArgs(namespaces: readonly string[] = []): string[] {
  return [...serverLimitArgs(), ...searchAttributeArgs(), ...namespaces.flatMap((ns) => ['--namespace', ns])];
}

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
  /** Kills the server as a crash would (SIGKILL); its state file stays for a restart. */
  kill(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Runs `temporal server start-dev` from the tools folder with its state in a
 * file, so workflows, schedules and history survive a restart.
 */
export async function startDevServer(options: {
  dbFile: string;
  port?: number;
  uiPort?: number;
  logFile?: string;
  /** More `start-dev` flags (namespaces, search attributes). */
  extraArgs?: string[];
}): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  for (const p of [port, uiPort]) {
    if (await portOpen(p)) {
      throw new Error(
        `port ${p} is already in use: stop what holds it, or set TEMPORAL_ADDRESS to use a running Temporal server`,
      );
    }
  }
  const child = spawn(
    toolPaths.temporal,
    [
      'server',
      'start-dev',
      '--db-filename',
      options.dbFile,
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--ip',
      '127.0.0.1',
      '--log-level',
      'warn',
      ...devServerArgs(),
      ...(options.extraArgs ?? []),
    ],
    // Own process group: Ctrl-C reaches us first, and we stop the worker before the server.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 30_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with ${child.exitCode}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal dev server did not listen on ${port} within 30 s: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://localhost:${uiPort}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
