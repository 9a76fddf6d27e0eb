import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database';
import { prepareStatements } from './prepared-statements';

// int8 (audit ids, counters) stays a string: JS numbers lose precision past 2^53.
// numeric is parsed as a JS number: money amounts here stay far below that.
// date stays 'YYYY-MM-DD': ledgers are keyed by UTC day, never by local midnight.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number.parseFloat(value));
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);
const pgliteParsers = {
  [pg.types.builtins.NUMERIC]: (value: string) => Number.parseFloat(value),
  [pg.types.builtins.DATE]: (value: string) => value,
  [pg.types.builtins.INT8]: (value: string) => value,
};

export interface DatabaseTarget {
  databaseUrl: string | undefined;
  dataDir: string;
}

export interface OpenDatabase {
  db: Kysely<Database>;
  /** Where the data lives, for messages (never includes a password). */
  description: string;
  close(): Promise<void>;
}

export class DatabaseLockedError extends Error {
  override name = 'DatabaseLockedError';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is single-process: two processes on one folder would corrupt it.
 * A pid file makes the second opener fail with a clear message instead.
 */
function lockPglite(dir: string): () => void {
  const lockPath = path.join(dir, 'warden.lock');
  try {
    const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    if (holder !== process.pid && Number.isFinite(holder) && pidAlive(holder)) {
      throw new DatabaseLockedError(
        `the embedded database ${dir} is in use by process ${holder} (a running Warden); stop it first, or set DATABASE_URL to use PostgreSQL`,
      );
    }
  } catch (error) {
    if (error instanceof DatabaseLockedError) throw error;
  }
  writeFileSync(lockPath, String(process.pid));
  return () => rmSync(lockPath, { force: true });
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  if (target.databaseUrl !== undefined) {
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 20 });
    // An idle connection dropped by a PostgreSQL restart must not crash the
    // process: the pool replaces it, and the failed activity is retried.
    pool.on('error', (error) => console.warn(`warden: idle database connection lost: ${error.message}`));
    // pg-pool listens only while a connection is idle: one lost while handed out (a transaction between
    // statements) would be an unhandled 'error' and end the process. Its next query fails instead, the
    // failed work is retried, and the pool drops the broken connection when it is released.
    pool.on('connect', (client) => {
      client.on('error', (error) => console.warn(`warden: database connection lost in use: ${error.message}`));
      prepareStatements(client);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, description: redact(target.databaseUrl), close: () => db.destroy() };
  }
  const dir = path.join(target.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const unlock = lockPglite(dir);
  try {
    // Loaded only here: a process on PostgreSQL (and every CLI call) never pays for the embedded engine.
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('kysely-pglite-dialect'),
    ]);
    const pglite = await PGlite.create(dir, { parsers: pgliteParsers });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      description: `embedded PGlite at ${dir}`,
      close: async () => {
        await db.destroy();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
