import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ExecutionToken } from '../domain/strategy/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

export function toToken(
  r: Selectable<Database['execution_token']>,
): ExecutionToken & { traceId: string; issuedBy: string } {
  return {
    id: r.id,
    strategyId: r.strategy_id,
    symbols: r.symbols,
    maxNotional: r.max_notional,
    actions: r.actions,
    expiresAt: r.expires_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
    traceId: r.trace_id,
    issuedBy: r.issued_by,
  };
}

export async function issueToken(
  db: Kysely<Database>,
  input: {
    strategyId: string;
    symbols: string[];
    maxNotional: number;
    actions: ('buy' | 'sell')[];
    ttlSeconds: number;
    traceId?: string;
    actor: string;
  },
) {
  const id = randomUUID();
  const expires = new Date(Date.now() + input.ttlSeconds * 1000);
  const traceId = input.traceId ?? randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('execution_token')
      .values({
        id,
        strategy_id: input.strategyId,
        symbols: JSON.stringify(input.symbols),
        max_notional: input.maxNotional,
        actions: JSON.stringify(input.actions),
        trace_id: traceId,
        issued_by: input.actor,
        expires_at: expires,
        revoked_at: null,
        revoked_by: null,
      })
      .execute();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.token.issued,
      subject: `strategy:${input.strategyId}`,
      details: {
        tokenId: id,
        traceId,
        symbols: input.symbols,
        maxNotional: input.maxNotional,
        actions: input.actions,
        expiresAt: expires.toISOString(),
      },
    });
  });
  return toToken(await db.selectFrom('execution_token').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** Revokes one token, or every live token of a strategy. Returns how many. */
export async function revokeTokens(
  db: Kysely<Database>,
  target: { tokenId: string } | { strategyId: string },
  actor: string,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let q = trx
      .updateTable('execution_token')
      .set({ revoked_at: new Date(), revoked_by: actor })
      .where('revoked_at', 'is', null);
    q = 'tokenId' in target ? q.where('id', '=', target.tokenId) : q.where('strategy_id', '=', target.strategyId);
    const rows = await q.returning('id').execute();
    if (rows.length > 0)
      await appendAuditEvent(trx, {
        actor,
        kind: AuditKind.token.revoked,
        subject: 'tokenId' in target ? `token:${target.tokenId}` : `strategy:${target.strategyId}`,
        details: { tokens: rows.map((r) => r.id) },
      });
    return rows.length;
  });
}

export async function listTokens(db: Kysely<Database>, strategyId?: string) {
  let q = db.selectFrom('execution_token').selectAll().orderBy('issued_at', 'desc').limit(100);
  if (strategyId) q = q.where('strategy_id', '=', strategyId);
  return (await q.execute()).map(toToken);
}

export async function findToken(db: Db, tokenId: string) {
  const row = await db.selectFrom('execution_token').selectAll().where('id', '=', tokenId).executeTakeFirst();
  return row && toToken(row);
}
