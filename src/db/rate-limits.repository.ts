import { type Kysely, sql } from 'kysely';
import type { Database } from './database';

/** A window as the database's clock puts it: fixed, aligned to multiples of its length, the same for every process. */
const windowStart = (seconds: number) =>
  sql<Date>`to_timestamp(floor(extract(epoch from now()) / ${seconds}) * ${seconds})`;
const secondsLeft = (seconds: number) =>
  sql<number>`ceil(${seconds} - (extract(epoch from now()) - floor(extract(epoch from now()) / ${seconds}) * ${seconds}))`;

export type Taken = { ok: true; count: number } | { ok: false; retryAfterSeconds: number };

/**
 * Counts one request in `key`'s current window unless it already holds
 * `limit`: one statement, so requests through any number of API processes
 * are counted once each and never past the limit.
 */
export async function takeRateLimit(db: Kysely<Database>, key: string, limit: number, seconds: number): Promise<Taken> {
  const counted = await db
    .insertInto('rate_limit_window')
    .values({ key, window_start: windowStart(seconds), count: 1 })
    .onConflict((oc) =>
      oc
        .columns(['key', 'window_start'])
        .doUpdateSet({ count: sql`rate_limit_window.count + 1` })
        .where('rate_limit_window.count', '<', limit),
    )
    .returning('count')
    .executeTakeFirst();
  if (counted) return { ok: true, count: counted.count };
  return { ok: false, retryAfterSeconds: await retryAfter(db, seconds) };
}

/** How many requests `key`'s current window holds, counting nothing. */
export async function peekRateLimit(
  db: Kysely<Database>,
  key: string,
  seconds: number,
): Promise<{ count: number; retryAfterSeconds: number }> {
  const row = await sql<{ count: number | null; retry: number }>`
    select (select count from rate_limit_window where key = ${key} and window_start = ${windowStart(seconds)}) as count,
           ${secondsLeft(seconds)}::int as retry`.execute(db);
  const { count, retry } = row.rows[0]!;
  return { count: count ?? 0, retryAfterSeconds: Math.max(1, Number(retry)) };
}

async function retryAfter(db: Kysely<Database>, seconds: number): Promise<number> {
  const row = await sql<{ retry: number }>`select ${secondsLeft(seconds)}::int as retry`.execute(db);
  return Math.max(1, Number(row.rows[0]!.retry));
}

/** Deletes windows that ended before the current one; answers how many. */
export async function sweepRateLimitWindows(db: Kysely<Database>, seconds: number): Promise<number> {
  const deleted = await db
    .deleteFrom('rate_limit_window')
    .where('window_start', '<', sql<Date>`${windowStart(seconds)} - make_interval(secs => ${seconds})`)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
