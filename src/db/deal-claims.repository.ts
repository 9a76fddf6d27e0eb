import { type Kysely, sql, type Transaction } from 'kysely';
import type { AdmissionInputs } from '../domain/change-requests/replay-inputs';
import type { ApplyMode } from '../domain/control-plane/types';
import type { ClaimStage, StoredClaim } from '../domain/deals/claims';
import type { DealHolding } from '../domain/deals/orphans';
import type { DealResult, DealTerms } from '../domain/deals/types';
import type { Database, DealClaimRow } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

const DEAL_KEY_PREFIX = 'deal:';

function toClaim(row: DealClaimRow): StoredClaim {
  return {
    dealId: row.deal_id,
    terms: row.terms,
    workflowId: row.workflow_id,
    runId: row.run_id,
    stage: row.stage,
    result: row.result,
    permitId: row.permit_id,
    applyMode: row.apply_mode as Exclude<ApplyMode, 'dry_run'> | null,
  };
}

/** Serialises claims of one deal id until the transaction ends (the row may not exist yet). */
export async function lockDealId(trx: Transaction<Database>, dealId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`deal-claim:${dealId}`}))`.execute(trx);
}

export async function findClaim(db: Db, dealId: string, { forUpdate = false } = {}): Promise<StoredClaim | undefined> {
  const query = db.selectFrom('deal_claim').selectAll().where('deal_id', '=', dealId);
  const row = await (forUpdate ? query.forUpdate() : query).executeTakeFirst();
  return row ? toClaim(row) : undefined;
}

/** Whether the deal id left reservations or permits behind (a deal from before claims). */
export async function dealIdUsed(db: Db, dealId: string): Promise<boolean> {
  const reservation = await db
    .selectFrom('risk_reservation')
    .select('idempotency_key')
    .where('idempotency_key', '=', `${DEAL_KEY_PREFIX}${dealId}`)
    .executeTakeFirst();
  if (reservation) return true;
  const permit = await db.selectFrom('execution_permit').select('id').where('deal_id', '=', dealId).executeTakeFirst();
  return permit !== undefined;
}

export async function insertClaim(
  trx: Db,
  claim: { dealId: string; terms: DealTerms; workflowId: string; runId: string },
): Promise<void> {
  await trx
    .insertInto('deal_claim')
    .values({
      deal_id: claim.dealId,
      terms: JSON.stringify(claim.terms),
      workflow_id: claim.workflowId,
      run_id: claim.runId,
      stage: 'claimed',
      result: null,
    })
    .execute();
}

/**
 * A first claim in one statement: inserted when the deal id has no claim and left nothing from before
 * claims (decideClaim's first rule). False when anything is there: the caller then decides under the
 * deal id's lock. A racer that inserts meanwhile makes the locked path's insert fail and retry, to find it.
 */
export async function insertFirstClaim(
  db: Db,
  claim: { dealId: string; terms: DealTerms; workflowId: string; runId: string },
): Promise<boolean> {
  const inserted = await sql<{ deal_id: string }>`
    insert into deal_claim (deal_id, terms, workflow_id, run_id, stage, result)
    select ${claim.dealId}, ${JSON.stringify(claim.terms)}::jsonb, ${claim.workflowId}, ${claim.runId}, 'claimed', null
    where not exists (select 1 from risk_reservation where idempotency_key = ${`${DEAL_KEY_PREFIX}${claim.dealId}`})
      and not exists (select 1 from execution_permit where deal_id = ${claim.dealId})
    on conflict (deal_id) do nothing
    returning deal_id`.execute(db);
  return inserted.rows.length === 1;
}

/** A new run of the claiming workflow (a reset, a restart after it closed) takes the claim over. */
export async function setClaimRun(trx: Db, dealId: string, runId: string): Promise<void> {
  await trx
    .updateTable('deal_claim')
    .set({ run_id: runId, updated_at: sql`now()` })
    .where('deal_id', '=', dealId)
    .execute();
}

/** What the deal asked at admission, on its claim (none before deal-claims: nothing to update then). */
export async function recordAdmissionInputs(db: Db, dealId: string, inputs: AdmissionInputs): Promise<void> {
  await db
    .updateTable('deal_claim')
    .set({ admission: JSON.stringify(inputs) })
    .where('deal_id', '=', dealId)
    .execute();
}

/** The permit is used: from here on the executor may have run. */
export async function markExecuting(
  trx: Db,
  change: { dealId: string; runId: string; permitId: string; applyMode: ApplyMode },
): Promise<void> {
  await trx
    .updateTable('deal_claim')
    .set({
      stage: 'executing',
      run_id: change.runId,
      permit_id: change.permitId,
      apply_mode: change.applyMode === 'dry_run' ? null : change.applyMode,
      updated_at: sql`now()`,
    })
    .where('deal_id', '=', change.dealId)
    .where('stage', '=', 'claimed')
    .execute();
}

/**
 * Records how the claiming workflow ended: its result (`done`), or that it
 * waits for reconciliation. A recorded result is never replaced.
 */
export async function recordClaimOutcome(
  trx: Db,
  outcome: { dealId: string; workflowId: string; runId: string; result: DealResult },
): Promise<void> {
  const waiting = outcome.result.status === 'needs_reconciliation';
  const stage: ClaimStage = waiting ? 'needs_reconciliation' : 'done';
  await trx
    .updateTable('deal_claim')
    .set({ stage, result: waiting ? null : JSON.stringify(outcome.result), updated_at: sql`now()` })
    .where('deal_id', '=', outcome.dealId)
    .where('workflow_id', '=', outcome.workflowId)
    .where('run_id', '=', outcome.runId)
    .where('stage', '!=', 'done')
    .execute();
}

/** The sweep's verdicts on a closed workflow's claim: released (with its result) or flagged. */
export async function settleOrphanClaim(
  trx: Db,
  dealId: string,
  change: { stage: 'done'; result: DealResult } | { stage: 'needs_reconciliation' },
): Promise<void> {
  await trx
    .updateTable('deal_claim')
    .set({
      stage: change.stage,
      ...(change.stage === 'done' ? { result: JSON.stringify(change.result) } : {}),
      updated_at: sql`now()`,
    })
    .where('deal_id', '=', dealId)
    .where('stage', '!=', 'done')
    .execute();
}

/**
 * Every deal that still holds something: a reserved deal reservation, an
 * unused permit, or a claim waiting for reconciliation. With its claim and
 * all its permits, for the sweep to judge.
 */
export async function listDealHoldings(db: Db, { limit = 500 } = {}): Promise<DealHolding[]> {
  const reserved = await db
    .selectFrom('risk_reservation')
    .select(['idempotency_key'])
    .where('status', '=', 'reserved')
    .where('idempotency_key', 'like', `${DEAL_KEY_PREFIX}%`)
    .limit(limit)
    .execute();
  const issued = await db
    .selectFrom('execution_permit')
    .select('deal_id')
    .where('status', '=', 'issued')
    .limit(limit)
    .execute();
  const waiting = await db
    .selectFrom('deal_claim')
    .select('deal_id')
    .where('stage', '=', 'needs_reconciliation')
    .limit(limit)
    .execute();
  const ids = [
    ...new Set([
      ...reserved.map((r) => r.idempotency_key.slice(DEAL_KEY_PREFIX.length)),
      ...issued.map((p) => p.deal_id),
      ...waiting.map((c) => c.deal_id),
    ]),
  ];
  const holdings: DealHolding[] = [];
  for (const dealId of ids) holdings.push(await readDealHolding(db, dealId));
  return holdings;
}

/** One deal's holding; inside a transaction, the rows are locked (reservation first, as settle does). */
export async function readDealHolding(db: Db, dealId: string, { forUpdate = false } = {}): Promise<DealHolding> {
  const lock = <Q extends { forUpdate(): Q }>(q: Q): Q => (forUpdate ? q.forUpdate() : q);
  const reservation = await lock(
    db
      .selectFrom('risk_reservation')
      .select(['idempotency_key', 'engine', 'amount', 'status'])
      .where('idempotency_key', '=', `${DEAL_KEY_PREFIX}${dealId}`),
  ).executeTakeFirst();
  const permits = await lock(
    db.selectFrom('execution_permit').select(['id', 'status']).where('deal_id', '=', dealId).orderBy('issued_at'),
  ).execute();
  const claim = await findClaim(db, dealId, { forUpdate });
  return {
    dealId,
    workflowId: claim?.workflowId ?? null,
    stage: claim?.stage ?? null,
    reservation: reservation
      ? {
          key: reservation.idempotency_key,
          engine: reservation.engine,
          amount: Number(reservation.amount),
          status: reservation.status,
        }
      : null,
    permits: permits.map((p) => ({ id: p.id, status: p.status })),
  };
}

/** A deal whose outcome is unknown (`needs_reconciliation`): what it asked, what it holds, how long it has waited. */
export interface UnresolvedDeal {
  dealId: string;
  workflowId: string;
  engine: string;
  symbol: string;
  side: 'buy' | 'sell';
  amount: number;
  strategyId: string | null;
  /** Still reserved against the caps while it waits (invariant 9); null when nothing is. */
  reserved: number | null;
  permitId: string | null;
  /** Why the outcome is unknown, as the deal recorded it. */
  cause: string | null;
  since: string;
  ageSeconds: number;
}

/** Every deal waiting for reconciliation, oldest first. */
export async function listUnresolvedDeals(db: Db, at: Date, { limit = 500 } = {}): Promise<UnresolvedDeal[]> {
  const rows = await db
    .selectFrom('deal_claim as c')
    .leftJoin('risk_reservation as r', (join) =>
      join.on('r.idempotency_key', '=', sql<string>`${DEAL_KEY_PREFIX} || c.deal_id`).on('r.status', '=', 'reserved'),
    )
    .select(['c.deal_id', 'c.workflow_id', 'c.terms', 'c.result', 'c.permit_id', 'c.updated_at', 'r.amount'])
    .where('c.stage', '=', 'needs_reconciliation')
    .orderBy('c.updated_at')
    .limit(limit)
    .execute();
  return rows.map((row) => {
    const terms = row.terms;
    const result = row.result as (DealResult & { cause?: string }) | null;
    return {
      dealId: row.deal_id,
      workflowId: row.workflow_id,
      engine: terms.engine,
      symbol: terms.symbol,
      // Terms claimed before sides were kept are buys (the input's default).
      side: terms.side ?? 'buy',
      amount: terms.amount,
      strategyId: terms.strategyId,
      reserved: row.amount,
      permitId: row.permit_id,
      cause: result?.cause ?? null,
      since: row.updated_at.toISOString(),
      ageSeconds: Math.max(0, Math.round((at.getTime() - row.updated_at.getTime()) / 1000)),
    };
  });
}
