import { type Kysely, sql } from 'kysely';
import type { PositionScope } from '../../domain/deals/positions';
import type { Database } from '../database';
import { listUnresolvedDeals, type UnresolvedDeal } from '../deal-claims.repository';
import { type Listed, REVIEW_LIST_LIMIT } from './shared';

// Issue 17's part of the Monday review: what is still open (positions Warden keeps that are not flat,
// the largest first) and what is unknown (deals waiting for reconciliation, the oldest first).

export interface PositionAtRisk {
  scope: PositionScope;
  scopeId: string;
  symbol: string;
  quantity: number;
  updatedAt: string;
}

export async function reviewPositionsAtRisk(db: Kysely<Database>): Promise<Listed<PositionAtRisk>> {
  const open = db.selectFrom('position').where('quantity', '<>', 0);
  const [total, rows] = await Promise.all([
    open.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    open
      .selectAll()
      .orderBy(sql`abs(quantity)`, 'desc')
      .orderBy('scope')
      .orderBy('scope_id')
      .orderBy('symbol')
      .limit(REVIEW_LIST_LIMIT)
      .execute(),
  ]);
  return {
    count: Number(total.n),
    latest: rows.map((r) => ({
      scope: r.scope,
      scopeId: r.scope_id,
      symbol: r.symbol,
      quantity: r.quantity,
      updatedAt: r.updated_at.toISOString(),
    })),
  };
}

export async function reviewUnresolved(db: Kysely<Database>, at: Date): Promise<Listed<UnresolvedDeal>> {
  const deals = await listUnresolvedDeals(db, at);
  return { count: deals.length, latest: deals.slice(0, REVIEW_LIST_LIMIT) };
}
