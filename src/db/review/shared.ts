import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { AuditKindName } from '../../domain/audit/kinds';
import type { Database } from '../database';

/**
 * The Monday review's SQL: each section's counts and latest rows over one
 * period, mapped to plain JSON, one file per section (broke, denied, drift,
 * waiting). The review itself is put together in
 * src/operator/review/monday-review.ts.
 */
export interface ReviewPeriod {
  since: Date;
  until: Date;
}

export interface Listed<T> {
  count: number;
  /** Newest first, at most REVIEW_LIST_LIMIT. */
  latest: T[];
}

export const REVIEW_LIST_LIMIT = 20;

/** Audit details are JSON written by several writers: a section reads only what it needs, tolerantly. */
export const readDetails = <T>(schema: z.ZodType<T>, value: unknown): Partial<T> => {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : {};
};

export const count = (n: string | number | bigint) => Number(n);

export async function listed<R, T>(
  total: Promise<{ n: string | number | bigint }>,
  rows: Promise<R[]>,
  map: (row: R) => T,
): Promise<Listed<T>> {
  const [t, r] = await Promise.all([total, rows]);
  return { count: count(t.n), latest: r.map(map) };
}

export type AuditRow = { at: Date; actor: string; subject: string; kind: string; details: Record<string, unknown> };

/** Audit events of `kinds` in the period: how many, and the latest. */
export async function auditListed<T>(
  db: Kysely<Database>,
  { since, until }: ReviewPeriod,
  kinds: AuditKindName[],
  map: (row: AuditRow) => T,
): Promise<Listed<T>> {
  const base = db
    .selectFrom('audit_event')
    .where('kind', 'in', kinds)
    .where('at', '>=', since)
    .where('at', '<=', until);
  const [total, rows] = await Promise.all([
    base.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    base.select(['at', 'actor', 'subject', 'kind', 'details']).orderBy('id', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
  ]);
  return { count: count(total.n), latest: rows.map(map) };
}
