// Helpers shared by tests and benchmarks; no vitest imports, so scripts can use them too.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { Registry } from 'prom-client';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { projectRoot, toolPaths } from '../../src/config/paths';
import { devServerArgs } from '../../src/temporal/dev-server';
import { createApiKey } from '../../src/db/api-keys.repository';
import { openDatabase, type OpenDatabase } from '../../src/db/connect';
import type { Database } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrate';
import type { Role } from '../../src/domain/identity/roles';
import { createApiServer, serveApi } from '../../src/operator/api/server';

const run = promisify(execFile);

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, resolving with its exit code and output instead of throwing; an undefined variable is unset. */
export async function exec(file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd: projectRoot,
      env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)),
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The `warden` command as an operator runs it, with this environment. */
export function wardenCli(
  env: Record<string, string | undefined>,
): (args: string[], extra?: Record<string, string | undefined>) => Promise<Ran> {
  return (args, extra = {}) =>
    exec(process.execPath, [path.join(projectRoot, 'bin', 'warden.cjs'), ...args], { ...env, ...extra });
}

export interface CliApi {
  url: string;
  /** A new API key for `identity` with `roles`, made with the repository (as `warden keys create` does). */
  key(identity: string, roles: Role[]): Promise<string>;
  /** `warden` acting with `key` against this API; `env` is laid over the defaults. */
  cli(
    key: string,
    env?: Record<string, string | undefined>,
  ): (args: string[], extra?: Record<string, string | undefined>) => Promise<Ran>;
  close(): Promise<void>;
}

/**
 * The operator API in this process, for tests that run the `warden` command: the CLI acts only as the
 * identity of an API key, through the API (as it does against PostgreSQL outside tests).
 */
export async function serveCliApi(options: {
  db: Kysely<Database>;
  client: Client;
  taskQueue: string;
  /** Extra configuration of the API process (signing keys, environment). */
  env?: Record<string, string>;
  authFailuresPerMinute?: number;
}): Promise<CliApi> {
  const config = loadConfig({
    TEMPORAL_NAMESPACE: options.client.options.namespace,
    WARDEN_TASK_QUEUE: options.taskQueue,
    ...options.env,
  });
  const deps = {
    db: options.db,
    warden: new WardenClient(options.client, options.taskQueue),
    temporal: options.client,
    config,
    registry: new Registry(),
  };
  const api = await serveApi(
    createApiServer(deps, {
      rateLimitPerMinute: 10_000,
      // A stricter API is a deployment of its own: its failed-authentication windows are kept apart.
      ...(options.authFailuresPerMinute
        ? { authFailuresPerMinute: options.authFailuresPerMinute, rateLimitScope: 'strict' }
        : {}),
    }),
    0,
    '127.0.0.1',
  );
  const url = `http://127.0.0.1:${api.port}`;
  return {
    url,
    key: async (identity, roles) => (await createApiKey(options.db, { identity, roles, actor: 'test' })).key,
    cli: (key, env = {}) => wardenCli({ WARDEN_API_URL: url, WARDEN_API_KEY: key, ...env }),
    close: () => api.close(),
  };
}

/** A local port with nothing listening: a probe of it fails fast with ECONNREFUSED. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts connections on `host`:`port`. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A fresh, migrated database on the cluster at DATABASE_URL, dropped by `drop()`. */
export async function createScratchDatabase(
  prefix: string,
): Promise<OpenDatabase & { url: string; drop(): Promise<void> }> {
  const admin = process.env.DATABASE_URL;
  if (!admin)
    throw new Error('DATABASE_URL is not set: run through npm test or npm run bench:*, which start PostgreSQL');
  const name = `${prefix}_${randomUUID().replaceAll('-', '')}`;
  const adminClient = new pg.Client({ connectionString: admin });
  await adminClient.connect();
  await adminClient.query(`create database ${name}`);
  await adminClient.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), dataDir: '.data' });
  await migrateToLatest(database.db);
  return {
    ...database,
    url: url.toString(),
    async drop() {
      await database.close();
      const cleanup = new pg.Client({ connectionString: admin });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** Dev servers this process started and has not torn down: each is a process that outlives this one. */
const liveDevServers = new Set<TestWorkflowEnvironment>();

/**
 * A dev server from `.tools/` as Warden needs one (its limits and search attributes, so Warden's
 * workflows can run on it), for the harnesses and benchmarks that own theirs.
 */
export async function createWardenDevServer(
  options: { namespaces?: readonly string[]; dbFilename?: string } = {},
): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPaths.temporal },
      ui: false,
      log: { format: 'pretty', level: 'error' },
      ...(options.dbFilename !== undefined ? { dbFilename: options.dbFilename } : {}),
      extraArgs: devServerArgs(options.namespaces ?? []),
    },
  });
  liveDevServers.add(env);
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    liveDevServers.delete(env);
    await teardown();
  };
  return env;
}

/** Tears down every dev server still up, as a harness exits: one left behind would run on. */
export async function tearDownDevServers(): Promise<void> {
  await Promise.allSettled([...liveDevServers].map((env) => env.teardown()));
}
