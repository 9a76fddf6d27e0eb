import type { Selectable, Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import { type Position, type PositionKey, positionAfter, type ReconcilePositionInput } from '../domain/deals/policy';
import { appendAuditEvent } from './audit.repository';
import type { Database, PositionTable } from './database';
import { type Db, inTransaction, type WriteContext } from './transaction';

function toPosition(row: Selectable<PositionTable>): Position {
  return {
    scope: row.scope,
    scopeId: row.scope_id,
    symbol: row.symbol,
    quantity: row.quantity,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
  };
}

const matching = (key: PositionKey) => ({ scope: key.scope, scope_id: key.scopeId, symbol: key.symbol });

/** Warden's net position for the key; 0 when it has none. */
export async function readPosition(db: Db, key: PositionKey): Promise<number> {
  const row = await db
    .selectFrom('position')
    .select('quantity')
    .where('scope', '=', key.scope)
    .where('scope_id', '=', key.scopeId)
    .where('symbol', '=', key.symbol)
    .executeTakeFirst();
  return row?.quantity ?? 0;
}

export async function listPositions(
  db: Db,
  filter: { scope?: PositionKey['scope']; scopeId?: string } = {},
): Promise<Position[]> {
  let query = db.selectFrom('position').selectAll();
  if (filter.scope !== undefined) query = query.where('scope', '=', filter.scope);
  if (filter.scopeId !== undefined) query = query.where('scope_id', '=', filter.scopeId);
  const rows = await query.orderBy('scope').orderBy('scope_id').orderBy('symbol').execute();
  return rows.map(toPosition);
}

/** The position row, locked, created at 0 first if missing. */
export async function lockPosition(trx: Transaction<Database>, key: PositionKey, actor: string): Promise<number> {
  await trx
    .insertInto('position')
    .values({ ...matching(key), updated_by: actor })
    .onConflict((oc) => oc.columns(['scope', 'scope_id', 'symbol']).doNothing())
    .execute();
  const row = await trx
    .selectFrom('position')
    .select('quantity')
    .where('scope', '=', key.scope)
    .where('scope_id', '=', key.scopeId)
    .where('symbol', '=', key.symbol)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return row.quantity;
}

async function writePosition(
  trx: Transaction<Database>,
  key: PositionKey,
  change: {
    quantity: number;
    delta: number;
    source: 'deal' | 'reconcile';
    key: string | null;
    actor: string;
    reason: string | null;
  },
): Promise<void> {
  await trx
    .updateTable('position')
    .set({ quantity: change.quantity, updated_by: change.actor, updated_at: new Date() })
    .where('scope', '=', key.scope)
    .where('scope_id', '=', key.scopeId)
    .where('symbol', '=', key.symbol)
    .execute();
  await trx
    .insertInto('position_event')
    .values({
      ...matching(key),
      idempotency_key: change.key,
      source: change.source,
      delta: change.delta,
      quantity_after: change.quantity,
      actor: change.actor,
      reason: change.reason,
    })
    .execute();
}

/**
 * An executed deal moves its position: buy +amount, sell −amount. Inside the
 * settle transaction; keyed by the deal, so a retried settle (which finds
 * the reservation settled and never gets here) or a replayed call moves it once.
 */
export async function applyDealToPosition(
  trx: Transaction<Database>,
  input: { key: string; position: PositionKey; side: 'buy' | 'sell'; amount: number; actor: string },
): Promise<void> {
  const done = await trx
    .selectFrom('position_event')
    .select('id')
    .where('idempotency_key', '=', input.key)
    .executeTakeFirst();
  if (done) return;
  const before = await lockPosition(trx, input.position, input.actor);
  const quantity = positionAfter(before, input.side, input.amount);
  await writePosition(trx, input.position, {
    quantity,
    delta: (Math.round(quantity * 100) - Math.round(before * 100)) / 100,
    source: 'deal',
    key: input.key,
    actor: input.actor,
    reason: null,
  });
}

/** An operator's (or producer's) reconciliation: sets the position, audited with who and why, one transaction. */
export async function reconcilePosition(
  db: Db,
  input: ReconcilePositionInput,
  context: WriteContext = {},
): Promise<Position> {
  return inTransaction(db, async (trx) => {
    const key: PositionKey = { scope: input.scope, scopeId: input.scopeId, symbol: input.symbol };
    const before = await lockPosition(trx, key, input.actor);
    const delta = (Math.round(input.quantity * 100) - Math.round(before * 100)) / 100;
    await writePosition(trx, key, {
      quantity: input.quantity,
      delta,
      source: 'reconcile',
      key: null,
      actor: input.actor,
      reason: input.reason,
    });
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.position.reconciled,
      subject: `position:${input.scope}:${input.scopeId}:${input.symbol}`,
      details: { before, after: input.quantity, delta, reason: input.reason, ...context },
    });
    const row = await trx
      .selectFrom('position')
      .selectAll()
      .where('scope', '=', key.scope)
      .where('scope_id', '=', key.scopeId)
      .where('symbol', '=', key.symbol)
      .executeTakeFirstOrThrow();
    return toPosition(row);
  });
}
