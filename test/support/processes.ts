// Helpers shared by tests and benchmarks; no vitest imports, so scripts can use them too.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openDatabase, type OpenDatabase } from '../../src/db/connect';
import { migrateToLatest } from '../../src/db/migrate';
import { projectRoot } from '../../src/config/paths';

const run = promisify(execFile);

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, resolving with its exit code and output instead of throwing. */
export async function exec(file: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd: projectRoot,
      env: { ...process.env, ...env },
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
  env: Record<string, string>,
): (args: string[], extra?: Record<string, string>) => Promise<Ran> {
  return (args, extra = {}) =>
    exec(process.execPath, [path.join(projectRoot, 'bin', 'warden.cjs'), ...args], { ...env, ...extra });
}

/** A local port with nothing listening: a probe of it fails fast with ECONNREFUSED. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
