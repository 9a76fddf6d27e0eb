import { type Kysely, sql, type Transaction } from 'kysely';
import { BURST_WINDOW_MS, HOUR_MS, type PermitCounts } from '../domain/permits/rules';
import type { Database } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

/** Serialises permit decisions per symbol until the transaction ends. */
export async function lockSymbol(trx: Transaction<Database>, symbol: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`permit:${symbol}`}))`.execute(trx);
}

export async function findPermitByKey(db: Db, key: string) {
  return db.selectFrom('execution_permit').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

export async function findBlockByKey(db: Db, key: string) {
  return db.selectFrom('permit_block').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

/** Permits of a symbol that count against its limits, issued in the hour and the burst window up to `at`. */
export async function countRecentPermits(db: Db, symbol: string, at: Date): Promise<PermitCounts> {
  const t = at.getTime();
  const counts = await db
    .selectFrom('execution_permit')
    .select([
      sql<string>`count(*) filter (where issued_at > ${new Date(t - HOUR_MS)})`.as('last_hour'),
      sql<string>`count(*) filter (where issued_at > ${new Date(t - BURST_WINDOW_MS)})`.as('last_5min'),
    ])
    .where('symbol', '=', symbol)
    .where('status', '!=', 'revoked')
    .where('issued_at', '<=', at)
    .executeTakeFirstOrThrow();
  return { lastHour: Number(counts.last_hour), last5Min: Number(counts.last_5min) };
}

export async function insertPermitBlock(
  trx: Db,
  block: { key: string; dealId: string; symbol: string; reason: string; at: Date; detail: string; disarm: boolean },
): Promise<void> {
  await trx
    .insertInto('permit_block')
    .values({
      idempotency_key: block.key,
      deal_id: block.dealId,
      symbol: block.symbol,
      reason: block.reason,
      at: block.at,
      details: JSON.stringify({ detail: block.detail, disarm: block.disarm }),
    })
    .execute();
}

export async function insertDisarmRecord(
  trx: Db,
  disarm: { key: string; symbol: string; at: Date; context: Record<string, unknown> },
): Promise<void> {
  await trx
    .insertInto('disarm_record')
    .values({
      idempotency_key: disarm.key,
      reason: 'burst_limit_breach',
      symbol: disarm.symbol,
      at: disarm.at,
      context: JSON.stringify(disarm.context),
    })
    .execute();
}

export async function insertPermit(
  trx: Db,
  permit: { id: string; key: string; dealId: string; symbol: string; issuedAt: Date; expiresAt: Date },
): Promise<void> {
  await trx
    .insertInto('execution_permit')
    .values({
      id: permit.id,
      idempotency_key: permit.key,
      deal_id: permit.dealId,
      symbol: permit.symbol,
      issued_at: permit.issuedAt,
      expires_at: permit.expiresAt,
      status: 'issued',
      consumed_at: null,
    })
    .execute();
}

/** The permit row, locked until the transaction ends. */
export async function lockPermit(trx: Transaction<Database>, permitId: string) {
  return trx.selectFrom('execution_permit').selectAll().where('id', '=', permitId).forUpdate().executeTakeFirst();
}

export async function setPermitStatus(
  trx: Db,
  permitId: string,
  change: { status: 'consumed'; at: Date } | { status: 'revoked' },
): Promise<void> {
  await trx
    .updateTable('execution_permit')
    .set(change.status === 'consumed' ? { status: 'consumed', consumed_at: change.at } : { status: 'revoked' })
    .where('id', '=', permitId)
    .execute();
}

export interface PermitListing {
  permits: {
    id: string;
    symbol: string;
    dealId: string;
    status: string;
    issuedAt: string;
    expiresAt: string;
    consumedAt: string | null;
  }[];
  blocks: { symbol: string; dealId: string; reason: string; at: string; details: Record<string, unknown> }[];
  disarms: { symbol: string; reason: string; at: string; context: Record<string, unknown> }[];
}

export async function listPermits(
  db: Kysely<Database>,
  filter: { symbol?: string; limit?: number } = {},
): Promise<PermitListing> {
  let permits = db
    .selectFrom('execution_permit')
    .selectAll()
    .orderBy('issued_at', 'desc')
    .limit(filter.limit ?? 50);
  let blocks = db
    .selectFrom('permit_block')
    .selectAll()
    .orderBy('at', 'desc')
    .limit(filter.limit ?? 50);
  if (filter.symbol !== undefined) {
    permits = permits.where('symbol', '=', filter.symbol);
    blocks = blocks.where('symbol', '=', filter.symbol);
  }
  const disarms = await db.selectFrom('disarm_record').selectAll().orderBy('at', 'desc').limit(20).execute();
  return {
    permits: (await permits.execute()).map((p) => ({
      id: p.id,
      symbol: p.symbol,
      dealId: p.deal_id,
      status: p.status,
      issuedAt: p.issued_at.toISOString(),
      expiresAt: p.expires_at.toISOString(),
      consumedAt: p.consumed_at?.toISOString() ?? null,
    })),
    blocks: (await blocks.execute()).map((b) => ({
      symbol: b.symbol,
      dealId: b.deal_id,
      reason: b.reason,
      at: b.at.toISOString(),
      details: b.details,
    })),
    disarms: disarms.map((d) => ({ symbol: d.symbol, reason: d.reason, at: d.at.toISOString(), context: d.context })),
  };
}
