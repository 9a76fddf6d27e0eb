import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database';
import type { StoredOutcomeEffects } from './tables/strategy';

// A strategy's trade outcomes (the health and maturity evidence) and the gate's governance log.

/** How far back the health and maturity evidence reaches. */
const EVIDENCE_TRADES = 500;

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

/** P&L oldest first; `since` limits it to the current level's record (maturity evidence), none for health. */
export async function pnls(db: Db, strategyId: string, since?: Date): Promise<number[]> {
  let q = db
    .selectFrom('strategy_outcome')
    .select('pnl')
    .where('strategy_id', '=', strategyId)
    .orderBy('id', 'desc')
    .limit(EVIDENCE_TRADES);
  if (since) q = q.where('at', '>=', since);
  return (await q.execute()).map((r) => r.pnl).reverse();
}

/** One trade outcome; a deal's outcome is stored once. True when this call stored it. */
export async function insertStrategyOutcome(
  db: Db,
  input: { strategyId: string; dealId: string; pnl: number; at: string },
): Promise<boolean> {
  const row = await db
    .insertInto('strategy_outcome')
    .values({ strategy_id: input.strategyId, deal_id: input.dealId, pnl: input.pnl, at: new Date(input.at) })
    .onConflict((oc) => oc.column('deal_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** What recording a deal's outcome answered; null for an outcome stored before answers were kept. */
export async function readOutcomeEffects(db: Db, dealId: string): Promise<StoredOutcomeEffects | null> {
  const row = await db
    .selectFrom('strategy_outcome')
    .select('effects')
    .where('deal_id', '=', dealId)
    .executeTakeFirstOrThrow();
  return row.effects;
}

/** Keeps what recording a deal's outcome answered, for its retries. */
export async function storeOutcomeEffects(db: Db, dealId: string, effects: StoredOutcomeEffects): Promise<void> {
  await db
    .updateTable('strategy_outcome')
    .set({ effects: JSON.stringify(effects) })
    .where('deal_id', '=', dealId)
    .execute();
}

/** The outcome a trace id was decided with, if it was (a retry's answer). */
export async function findGovernanceDecision(db: Db, traceId: string): Promise<unknown> {
  const prior = await db
    .selectFrom('governance_log')
    .select(['details'])
    .where('trace_id', '=', traceId)
    .executeTakeFirst();
  return prior?.details;
}

export async function insertGovernanceLog(
  db: Db,
  entry: {
    traceId: string;
    strategyId: string;
    action: string;
    scores: Record<string, unknown>;
    details: unknown;
    durationMs: number;
  },
): Promise<void> {
  await db
    .insertInto('governance_log')
    .values({
      trace_id: entry.traceId,
      strategy_id: entry.strategyId,
      action: entry.action,
      scores: JSON.stringify(entry.scores),
      details: JSON.stringify(entry.details),
      duration_ms: entry.durationMs,
    })
    .onConflict((oc) => oc.column('trace_id').doNothing())
    .execute();
}

/** Seed 001's governance log, newest first. */
export async function listGovernanceLog(db: Kysely<Database>, filter: { strategyId?: string; limit?: number } = {}) {
  let query = db
    .selectFrom('governance_log')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 50);
  if (filter.strategyId !== undefined) query = query.where('strategy_id', '=', filter.strategyId);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: String(r.id),
    traceId: r.trace_id,
    strategyId: r.strategy_id,
    action: r.action,
    scores: r.scores,
    details: r.details,
    durationMs: r.duration_ms,
    at: r.at.toISOString(),
  }));
}
