import type { Kysely, Selectable, Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import { ErrorType } from '../domain/shared/errors';
import type { Restriction } from '../domain/watchdogs/activities';
import { appendAuditEvent } from './audit.repository';
import type { Database, EngineRestrictionTable } from './database';

// Engine restrictions (THROTTLE, PAUSE). In production only the control-plane
// activity writes them: the control plane is their one writer.

export function toRestriction(row: Selectable<EngineRestrictionTable>): Restriction {
  return {
    id: String(row.id),
    engine: row.engine,
    kind: row.kind,
    source: row.source,
    reason: row.reason,
    createdAt: row.created_at.toISOString(),
    clearedAt: row.cleared_at?.toISOString() ?? null,
    clearedBy: row.cleared_by,
    clearReason: row.clear_reason,
  };
}

/**
 * THROTTLE disables the engine's risk policy (the next reserve is denied
 * `policy_disabled`); PAUSE holds new reserves (`engine_paused`) while deals
 * already reserved settle. Idempotent per (engine, kind, source).
 */
export async function applyRestriction(db: Kysely<Database>, input: RestrictionRequest): Promise<Restriction> {
  return db.transaction().execute((trx) => applyRestrictionIn(trx, input));
}

export interface RestrictionRequest {
  engine: string;
  kind: 'throttle' | 'pause';
  source: string;
  reason: string;
  actor: string;
}

/** applyRestriction inside the caller's transaction. */
export async function applyRestrictionIn(trx: Transaction<Database>, input: RestrictionRequest): Promise<Restriction> {
  const prior = input.kind === 'throttle' ? await priorPolicyState(trx, input.engine) : undefined;
  await trx
    .insertInto('engine_restriction')
    .values({
      engine: input.engine,
      kind: input.kind,
      source: input.source,
      reason: input.reason,
      cleared_at: null,
      cleared_by: null,
      clear_reason: null,
    })
    .onConflict((oc) => oc.columns(['engine', 'kind', 'source']).where('cleared_at', 'is', null).doNothing())
    .execute();
  if (input.kind === 'throttle') {
    await trx
      .insertInto('risk_policy')
      .values({
        engine: input.engine,
        max_daily_loss: null,
        max_daily_exposure: null,
        max_open_risk: null,
        max_actions_per_day: null,
        enabled: false,
        updated_by: input.actor,
      })
      .onConflict((oc) =>
        oc.column('engine').doUpdateSet({ enabled: false, updated_by: input.actor, updated_at: new Date() }),
      )
      .execute();
  }
  const row = await trx
    .selectFrom('engine_restriction')
    .selectAll()
    .where('engine', '=', input.engine)
    .where('kind', '=', input.kind)
    .where('source', '=', input.source)
    .where('cleared_at', 'is', null)
    .executeTakeFirstOrThrow();
  if (prior) {
    await trx
      .insertInto('engine_restriction_prior_state')
      .values({ engine: input.engine, ...prior, restriction_id: row.id })
      .onConflict((oc) =>
        oc.column('engine').doUpdateSet({ ...prior, restriction_id: row.id, captured_at: new Date() }),
      )
      .execute();
  }
  await appendAuditEvent(trx, {
    actor: input.actor,
    kind: AuditKind.restrictionApplied[input.kind],
    subject: `engine:${input.engine}`,
    details: { restrictionId: String(row.id), source: input.source, reason: input.reason },
    idempotencyKey: `restriction-applied:${row.id}`,
  });
  return toRestriction(row);
}

/**
 * Read before the engine's first active throttle: whether it had a risk
 * policy and whether that was enabled, so clearing the last throttle restores
 * exactly that. Undefined while a throttle is already active (the first one's record stands).
 */
async function priorPolicyState(trx: Transaction<Database>, engine: string) {
  const active = await trx
    .selectFrom('engine_restriction')
    .select('id')
    .where('engine', '=', engine)
    .where('kind', '=', 'throttle')
    .where('cleared_at', 'is', null)
    .executeTakeFirst();
  if (active) return undefined;
  const policy = await trx
    .selectFrom('risk_policy')
    .select('enabled')
    .where('engine', '=', engine)
    .forUpdate()
    .executeTakeFirst();
  return { policy_existed: policy !== undefined, policy_enabled: policy?.enabled ?? null };
}

/**
 * After the engine's last throttle is cleared: the policy as it was before
 * the first one. No record (a throttle from before records were kept) falls
 * back to enabling the existing policy, as clearing always did.
 */
async function restorePriorPolicyState(trx: Transaction<Database>, engine: string, actor: string) {
  const prior = await trx
    .deleteFrom('engine_restriction_prior_state')
    .where('engine', '=', engine)
    .returningAll()
    .executeTakeFirst();
  const now = new Date();
  if (prior && !prior.policy_existed) {
    // No policy before: remove the placeholder the throttle created, unless caps were set on it since.
    const removed = await trx
      .deleteFrom('risk_policy')
      .where('engine', '=', engine)
      .where('max_daily_loss', 'is', null)
      .where('max_daily_exposure', 'is', null)
      .where('max_open_risk', 'is', null)
      .where('max_actions_per_day', 'is', null)
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) > 0) return { policy: 'removed' as const };
  }
  const enabled = prior?.policy_enabled ?? true;
  await trx
    .updateTable('risk_policy')
    .set({ enabled, updated_by: actor, updated_at: now })
    .where('engine', '=', engine)
    .execute();
  return { policy: enabled ? ('enabled' as const) : ('disabled' as const) };
}

/** Clears locked, active rows; shared with the tripwire's reset. */
export async function clearRows(
  trx: Transaction<Database>,
  rows: Selectable<EngineRestrictionTable>[],
  actor: string,
  reason: string,
): Promise<Restriction[]> {
  const cleared: Restriction[] = [];
  for (const row of rows) {
    const updated = await trx
      .updateTable('engine_restriction')
      .set({ cleared_at: new Date(), cleared_by: actor, clear_reason: reason })
      .where('id', '=', row.id)
      .where('cleared_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!updated) continue;
    let restored: { policy: 'removed' | 'enabled' | 'disabled' } | undefined;
    if (row.kind === 'throttle') {
      const stillThrottled = await trx
        .selectFrom('engine_restriction')
        .select('id')
        .where('engine', '=', row.engine)
        .where('kind', '=', 'throttle')
        .where('cleared_at', 'is', null)
        .executeTakeFirst();
      restored = stillThrottled ? undefined : await restorePriorPolicyState(trx, row.engine, actor);
    }
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.restrictionCleared[row.kind],
      subject: `engine:${row.engine}`,
      details: { restrictionId: String(row.id), source: row.source, reason, ...(restored ? { restored } : {}) },
    });
    cleared.push(toRestriction(updated));
  }
  return cleared;
}

/** Which active restrictions a clear names: one by id, or an engine's (by kind and/or source). */
export interface RestrictionFilter {
  restrictionId?: string | undefined;
  engine?: string | undefined;
  kind?: 'throttle' | 'pause' | undefined;
  source?: string | undefined;
}

/** The active restrictions a filter names, locked until the transaction ends. */
export async function lockActiveRestrictions(trx: Transaction<Database>, filter: RestrictionFilter) {
  let query = trx.selectFrom('engine_restriction').selectAll().where('cleared_at', 'is', null);
  if (filter.restrictionId !== undefined) query = query.where('id', '=', filter.restrictionId);
  if (filter.engine !== undefined) query = query.where('engine', '=', filter.engine);
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
  if (filter.source !== undefined) query = query.where('source', '=', filter.source);
  return query.orderBy('id').forUpdate().execute();
}

/** Clears the given (locked, active) restrictions inside the caller's transaction; the last throttle restores the policy. */
export async function clearRestrictionsIn(
  trx: Transaction<Database>,
  rows: Selectable<EngineRestrictionTable>[],
  actor: string,
  reason: string,
): Promise<Restriction[]> {
  return clearRows(trx, rows, actor, reason);
}

export class RestrictionNotFoundError extends Error {
  override name = ErrorType.RestrictionNotFound;
}

export async function clearRestriction(
  db: Kysely<Database>,
  id: string,
  actor: string,
  reason: string,
): Promise<Restriction> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('engine_restriction')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!row || row.cleared_at !== null) throw new RestrictionNotFoundError(`no active restriction ${id}`);
    return (await clearRows(trx, [row], actor, reason))[0]!;
  });
}

export async function listRestrictions(db: Kysely<Database>, { activeOnly = true } = {}): Promise<Restriction[]> {
  let query = db.selectFrom('engine_restriction').selectAll().orderBy('id', 'desc').limit(100);
  if (activeOnly) query = query.where('cleared_at', 'is', null);
  return (await query.execute()).map(toRestriction);
}
