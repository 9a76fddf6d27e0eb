import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { BURST_WINDOW_MS, decidePermit, type GovernorSettings, HOUR_MS, type PermitBlockReason } from '../domain/permits/rules';
import { type AuditEntry, recordAuditEvents } from './audit.repository';
import type { Database } from './database';

export type PermitDecision =
  | { granted: true; permitId: string; symbol: string; issuedAt: string; expiresAt: string }
  | { granted: false; symbol: string; reason: PermitBlockReason; detail: string; disarm: boolean };

export interface PermitRequest {
  key: string;
  dealId: string;
  symbol: string;
  /** The reference instant: workflow time, so windows and TTLs follow the workflow's clock. */
  at: Date;
  actor: string;
}

/** The audit events a permit decision owes: one for the decision, one more for a disarm. */
function permitAudits(request: PermitRequest, decision: PermitDecision): AuditEntry[] {
  if (decision.granted) {
    return [
      {
        actor: request.actor,
        kind: 'permit.issued',
        subject: `symbol:${decision.symbol}`,
        details: { permitId: decision.permitId, dealId: request.dealId, expiresAt: decision.expiresAt },
        idempotencyKey: `permit:${request.key}`,
      },
    ];
  }
  const blocked: AuditEntry = {
    actor: request.actor,
    kind: 'permit.blocked',
    subject: `symbol:${decision.symbol}`,
    details: { dealId: request.dealId, reason: decision.reason, detail: decision.detail },
    idempotencyKey: `permit-block:${request.key}`,
  };
  if (!decision.disarm) return [blocked];
  return [
    blocked,
    {
      actor: 'governor',
      kind: 'governor.auto_disarm',
      subject: `symbol:${decision.symbol}`,
      details: { reason: 'burst_limit_breach', dealId: request.dealId, detail: decision.detail },
      idempotencyKey: `disarm:${request.key}`,
    },
  ];
}

/**
 * Issues a single-use permit, or records a block with its reason. Serialised
 * per symbol, idempotent per key. A burst breach with auto-disarm on also
 * writes the disarm record; the caller then disarms the control plane. The
 * audit events follow in their own transaction (keyed, so a retry after a
 * crash in between appends them once): the symbol's lock is never held
 * while waiting for the audit chain.
 */
export async function issuePermit(db: Kysely<Database>, settings: GovernorSettings, request: PermitRequest): Promise<PermitDecision> {
  const decision = await db.transaction().execute(async (trx): Promise<PermitDecision> => {
    await sql`select pg_advisory_xact_lock(hashtext(${`permit:${request.symbol}`}))`.execute(trx);
    const prior = await trx.selectFrom('execution_permit').selectAll().where('idempotency_key', '=', request.key).executeTakeFirst();
    if (prior) {
      return { granted: true, permitId: prior.id, symbol: prior.symbol, issuedAt: prior.issued_at.toISOString(), expiresAt: prior.expires_at.toISOString() };
    }
    const priorBlock = await trx.selectFrom('permit_block').selectAll().where('idempotency_key', '=', request.key).executeTakeFirst();
    if (priorBlock) {
      const details = priorBlock.details as { detail?: string; disarm?: boolean };
      return { granted: false, symbol: priorBlock.symbol, reason: priorBlock.reason as PermitBlockReason, detail: details.detail ?? '', disarm: details.disarm ?? false };
    }
    const at = request.at.getTime();
    const counts = await trx
      .selectFrom('execution_permit')
      .select([
        sql<string>`count(*) filter (where issued_at > ${new Date(at - HOUR_MS)})`.as('last_hour'),
        sql<string>`count(*) filter (where issued_at > ${new Date(at - BURST_WINDOW_MS)})`.as('last_5min'),
      ])
      .where('symbol', '=', request.symbol)
      .where('status', '!=', 'revoked')
      .where('issued_at', '<=', request.at)
      .executeTakeFirstOrThrow();
    const check = decidePermit({ lastHour: Number(counts.last_hour), last5Min: Number(counts.last_5min) }, settings);
    if (!check.ok) {
      await trx
        .insertInto('permit_block')
        .values({
          idempotency_key: request.key,
          deal_id: request.dealId,
          symbol: request.symbol,
          reason: check.reason,
          at: request.at,
          details: JSON.stringify({ detail: check.detail, disarm: check.disarm }),
        })
        .execute();
      if (check.disarm) {
        await trx
          .insertInto('disarm_record')
          .values({
            idempotency_key: `disarm:${request.key}`,
            reason: 'burst_limit_breach',
            symbol: request.symbol,
            at: request.at,
            context: JSON.stringify({ dealId: request.dealId, detail: check.detail }),
          })
          .execute();
      }
      return { granted: false, symbol: request.symbol, reason: check.reason, detail: check.detail, disarm: check.disarm };
    }
    const expires = new Date(at + settings.permitTtlSeconds * 1000);
    const id = randomUUID();
    await trx
      .insertInto('execution_permit')
      .values({ id, idempotency_key: request.key, deal_id: request.dealId, symbol: request.symbol, issued_at: request.at, expires_at: expires, status: 'issued', consumed_at: null })
      .execute();
    return { granted: true, permitId: id, symbol: request.symbol, issuedAt: request.at.toISOString(), expiresAt: expires.toISOString() };
  });
  await recordAuditEvents(db, permitAudits(request, decision));
  return decision;
}

export type ConsumeResult = { ok: true } | { ok: false; reason: 'permit_missing' | 'permit_expired' | 'permit_revoked' };

/** Uses a permit once, before its TTL; the same deal asking again (a retry) is told yes. */
export async function consumePermit(db: Kysely<Database>, request: { permitId: string; dealId: string; at: Date }): Promise<ConsumeResult> {
  return db.transaction().execute(async (trx) => {
    const permit = await trx.selectFrom('execution_permit').selectAll().where('id', '=', request.permitId).forUpdate().executeTakeFirst();
    // A permit belongs to one deal: another deal cannot spend it.
    if (!permit || permit.deal_id !== request.dealId) return { ok: false, reason: 'permit_missing' };
    if (permit.status === 'consumed') return { ok: true };
    if (permit.status === 'revoked') return { ok: false, reason: 'permit_revoked' };
    if (request.at.getTime() > permit.expires_at.getTime()) return { ok: false, reason: 'permit_expired' };
    // Not audited on its own: the deal's outcome event names the permit it used.
    await trx.updateTable('execution_permit').set({ status: 'consumed', consumed_at: request.at }).where('id', '=', request.permitId).execute();
    return { ok: true };
  });
}

/** Compensation: an unused permit of a stopped deal is revoked and stops counting against the limits. */
export async function revokePermit(db: Kysely<Database>, request: { permitId: string; reason: string }): Promise<{ revoked: boolean }> {
  return db.transaction().execute(async (trx) => {
    const permit = await trx.selectFrom('execution_permit').selectAll().where('id', '=', request.permitId).forUpdate().executeTakeFirst();
    if (!permit || permit.status !== 'issued') return { revoked: false };
    // Compensation is summarised in the deal's outcome event.
    await trx.updateTable('execution_permit').set({ status: 'revoked' }).where('id', '=', request.permitId).execute();
    return { revoked: true };
  });
}

export interface PermitListing {
  permits: { id: string; symbol: string; dealId: string; status: string; issuedAt: string; expiresAt: string; consumedAt: string | null }[];
  blocks: { symbol: string; dealId: string; reason: string; at: string; details: Record<string, unknown> }[];
  disarms: { symbol: string; reason: string; at: string; context: Record<string, unknown> }[];
}

export async function listPermits(db: Kysely<Database>, filter: { symbol?: string; limit?: number } = {}): Promise<PermitListing> {
  let permits = db.selectFrom('execution_permit').selectAll().orderBy('issued_at', 'desc').limit(filter.limit ?? 50);
  let blocks = db.selectFrom('permit_block').selectAll().orderBy('at', 'desc').limit(filter.limit ?? 50);
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
    blocks: (await blocks.execute()).map((b) => ({ symbol: b.symbol, dealId: b.deal_id, reason: b.reason, at: b.at.toISOString(), details: b.details })),
    disarms: disarms.map((d) => ({ symbol: d.symbol, reason: d.reason, at: d.at.toISOString(), context: d.context })),
  };
}
