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

/**
 * What a permit is decided on, in one statement: the permit or block already stored for the key (a
 * retry's answer), and the symbol's permits that count against its limits, issued in the hour and the
 * burst window up to `at`. Read after the symbol's lock (lockSymbol), never in the statement taking it:
 * a statement's snapshot is taken when it starts, before it waits.
 */
export async function readPermitInputs(
  trx: Db,
  key: string,
  symbol: string,
  at: Date,
): Promise<{
  permit: { id: string; symbol: string; issued_at: Date; expires_at: Date } | undefined;
  block: { symbol: string; reason: string; details: unknown } | undefined;
  counts: PermitCounts;
}> {
  const t = at.getTime();
  const { rows } = await sql<{
    permit_id: string | null;
    permit_symbol: string;
    issued_at: Date;
    expires_at: Date;
    block_symbol: string | null;
    block_reason: string;
    block_details: unknown;
    last_hour: string;
    last_5min: string;
  }>`
    select p.id as permit_id, p.symbol as permit_symbol, p.issued_at, p.expires_at,
           b.symbol as block_symbol, b.reason as block_reason, b.details as block_details,
           c.last_hour, c.last_5min
    from (select 1) as one
    left join execution_permit p on p.idempotency_key = ${key}
    left join permit_block b on b.idempotency_key = ${key}
    cross join lateral (
      select count(*) filter (where issued_at > ${new Date(t - HOUR_MS)}) as last_hour,
             count(*) filter (where issued_at > ${new Date(t - BURST_WINDOW_MS)}) as last_5min
      from execution_permit
      where symbol = ${symbol} and status <> 'revoked' and issued_at <= ${at}) as c`.execute(trx);
  const row = rows[0]!;
  return {
    permit:
      row.permit_id === null
        ? undefined
        : { id: row.permit_id, symbol: row.permit_symbol, issued_at: row.issued_at, expires_at: row.expires_at },
    block:
      row.block_symbol === null
        ? undefined
        : { symbol: row.block_symbol, reason: row.block_reason, details: row.block_details },
    counts: { lastHour: Number(row.last_hour), last5Min: Number(row.last_5min) },
  };
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
