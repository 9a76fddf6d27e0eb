import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ExecutionTokenTerms } from '../domain/change-requests/operational-changes';
import type { ExecutionToken } from '../domain/strategy/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';
import { type Db, inTransaction, type WriteContext } from './transaction';

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

/** Issues a token under `id` (a change request names it before it applies), with its audit, in one transaction. */
export async function issueToken(
  db: Db,
  input: ExecutionTokenTerms & { id?: string; traceId?: string; actor: string },
  context: WriteContext = {},
) {
  const id = input.id ?? randomUUID();
  const expires = new Date(Date.now() + input.ttlSeconds * 1000);
  const traceId = input.traceId ?? randomUUID();
  await inTransaction(db, async (trx) => {
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
        ...context,
      },
    });
  });
  return toToken(await db.selectFrom('execution_token').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** A token's terms as its change request states them (its lifetime as issued), or null when there is none. */
export async function readTokenTerms(db: Db, tokenId: string): Promise<ExecutionTokenTerms | null> {
  const r = await db.selectFrom('execution_token').selectAll().where('id', '=', tokenId).executeTakeFirst();
  if (!r) return null;
  return {
    strategyId: r.strategy_id,
    symbols: r.symbols,
    maxNotional: r.max_notional,
    actions: r.actions,
    ttlSeconds: Math.round((r.expires_at.getTime() - r.issued_at.getTime()) / 1000),
  };
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
