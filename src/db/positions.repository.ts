import type { Selectable, Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { ReduceCheck } from '../domain/control-plane/rules';
import { judgeExit, mayReduce } from '../domain/deals/exits';
import { type ReconcilePositionInput } from '../domain/deals/policy';
import { type Position, type PositionKey, positionAfter } from '../domain/deals/positions';
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

/** One change that built a position: an executed deal's (with its id) or a reconciliation. */
export interface PositionChange {
  source: 'deal' | 'reconcile';
  dealId: string | null;
  delta: number;
  quantityAfter: number;
  actor: string;
  reason: string | null;
  at: string;
}

/** A position with the changes that built it (the latest first, up to `changes`) and what exits hold of it. */
export interface PositionDetail extends Position {
  heldByExits: number;
  changes: PositionChange[];
}

const DEAL_KEY = /^deal:(.+)$/;

/** The positions, each with the deals (and reconciliations) that built it and what exits hold of it. */
export async function listPositionDetails(
  db: Db,
  filter: { scope?: PositionKey['scope']; scopeId?: string } = {},
  changes = 20,
): Promise<PositionDetail[]> {
  const positions = await listPositions(db, filter);
  return Promise.all(
    positions.map(async (p) => {
      const [events, held] = await Promise.all([
        db
          .selectFrom('position_event')
          .selectAll()
          .where('scope', '=', p.scope)
          .where('scope_id', '=', p.scopeId)
          .where('symbol', '=', p.symbol)
          .orderBy('id', 'desc')
          .limit(changes)
          .execute(),
        heldByExits(db, p),
      ]);
      return {
        ...p,
        heldByExits: held,
        changes: events.map((e) => ({
          source: e.source,
          dealId: DEAL_KEY.exec(e.idempotency_key ?? '')?.[1] ?? null,
          delta: e.delta,
          quantityAfter: e.quantity_after,
          actor: e.actor,
          reason: e.reason,
          at: e.at.toISOString(),
        })),
      };
    }),
  );
}

/** The position row, locked, created at 0 first if missing. */
export async function lockPosition(trx: Transaction<Database>, key: PositionKey, actor: string): Promise<number> {
  const lock = () =>
    trx
      .selectFrom('position')
      .select('quantity')
      .where('scope', '=', key.scope)
      .where('scope_id', '=', key.scopeId)
      .where('symbol', '=', key.symbol)
      .forUpdate()
      .executeTakeFirst();
  // The row exists after a symbol's first deal: one round trip then; created (by whoever is first) before.
  const row = await lock();
  if (row) return row.quantity;
  await trx
    .insertInto('position')
    .values({ ...matching(key), updated_by: actor })
    .onConflict((oc) => oc.columns(['scope', 'scope_id', 'symbol']).doNothing())
    .execute();
  return (await lock())!.quantity;
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
  /** The position's quantity, where the caller already holds its row in this transaction. */
  locked?: number,
): Promise<void> {
  const done = await trx
    .selectFrom('position_event')
    .select('id')
    .where('idempotency_key', '=', input.key)
    .executeTakeFirst();
  if (done) return;
  const before = locked ?? (await lockPosition(trx, input.position, input.actor));
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

/** What admitted exits not yet settled or released hold of the position. */
async function heldByExits(db: Db, key: PositionKey): Promise<number> {
  const row = await db
    .selectFrom('position_exit_hold')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), eb.lit(0)).as('held'))
    .where('scope', '=', key.scope)
    .where('scope_id', '=', key.scopeId)
    .where('symbol', '=', key.symbol)
    .executeTakeFirstOrThrow();
  return Number(row.held);
}

/** What an exit asks of a position: its deal, its reservation's key, side and amount. */
export interface ExitClaim {
  key: string;
  dealId: string;
  position: PositionKey;
  side: 'buy' | 'sell';
  amount: number;
  actor: string;
}

/**
 * Judges whether the deal reduces its position (src/domain/deals/exits.ts) and, when it does, holds that
 * much of the position for it until it settles or is released. The position row is locked first, so two
 * exits racing on it are judged one after the other, each against what the other holds. A deal that cannot
 * be an exit (a buy against a long, or no position) locks nothing. A retry finds its hold.
 */
export async function holdExit(trx: Transaction<Database>, claim: ExitClaim): Promise<ReduceCheck> {
  const prior = await trx
    .selectFrom('position_exit_hold')
    .select('amount')
    .where('idempotency_key', '=', claim.key)
    .executeTakeFirst();
  if (prior) return { reduces: true };
  const unlocked = await readPosition(trx, claim.position);
  if (!mayReduce(unlocked, claim.side))
    return judgeExit({ position: unlocked, held: 0, side: claim.side, amount: claim.amount });
  const position = await lockPosition(trx, claim.position, claim.actor);
  const held = await heldByExits(trx, claim.position);
  const check = judgeExit({ position, held, side: claim.side, amount: claim.amount });
  if (check.reduces)
    await trx
      .insertInto('position_exit_hold')
      .values({ idempotency_key: claim.key, deal_id: claim.dealId, ...matching(claim.position), amount: claim.amount })
      .execute();
  return check;
}

/** The exit's hold ends: its deal settled (the position moved) or was released. A no-op for any other deal. */
export async function dropExitHold(trx: Transaction<Database>, key: string): Promise<void> {
  await trx.deleteFrom('position_exit_hold').where('idempotency_key', '=', key).execute();
}

/**
 * Reduce mode's read of a deal (its first check, and before each executor retry): an exit it already
 * holds passes; otherwise it is judged against the position and what other exits hold, holding nothing.
 */
export async function readExitCheck(db: Db, deal: Omit<ExitClaim, 'key' | 'actor'>): Promise<ReduceCheck> {
  if (await holdsExit(db, deal.dealId)) return { reduces: true };
  const [position, held] = await Promise.all([readPosition(db, deal.position), heldByExits(db, deal.position)]);
  return judgeExit({ position, held, side: deal.side, amount: deal.amount });
}

/** Whether the deal holds an exit: what reduce mode's last gate lets through. */
export async function holdsExit(db: Db, dealId: string): Promise<boolean> {
  const row = await db
    .selectFrom('position_exit_hold')
    .select('deal_id')
    .where('deal_id', '=', dealId)
    .executeTakeFirst();
  return row !== undefined;
}
