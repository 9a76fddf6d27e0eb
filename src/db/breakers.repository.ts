import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { type BreakerRule, BreakerRuleSchema, type BreakerTrip } from '../domain/autonomy/breakers';
import { AuditKind } from '../domain/audit/kinds';
import type { BreakerEventState } from '../domain/change-requests/operational-changes';
import { appendAuditEvent } from './audit.repository';
import type { CircuitBreakerRuleTable, Database } from './database';
import { type WriteContext, inTransaction } from './transaction';

// Seed 002's circuit breakers: rules, the events they trip, and the revert outbox.

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

function toRule(r: Selectable<CircuitBreakerRuleTable>): BreakerRule {
  return {
    name: r.name,
    enabled: r.enabled,
    condition: r.condition,
    window: r.window,
    action: r.action,
    alertSeverity: r.alert_severity,
  };
}

export async function listBreakerRules(db: Db, { ordered = true } = {}): Promise<BreakerRule[]> {
  const query = db.selectFrom('circuit_breaker_rule').selectAll();
  return (await (ordered ? query.orderBy('name') : query).execute()).map(toRule);
}

/** Callers validate with BreakerRuleSchema first: a malformed condition never reaches the table. */
export async function setBreakerRule(
  db: Db,
  rule: BreakerRule,
  actor: string,
  context: WriteContext = {},
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const values = {
      enabled: rule.enabled,
      condition: rule.condition,
      window: rule.window,
      action: rule.action,
      alert_severity: rule.alertSeverity,
      updated_by: actor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('circuit_breaker_rule')
      .values({ name: rule.name, ...values })
      .onConflict((oc) => oc.column('name').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.breaker.ruleSet,
      subject: `breaker:${rule.name}`,
      details: { rule, ...context },
    });
  });
}

/** One breaker evaluation at a time: held until the caller's transaction ends. */
export async function lockBreakers(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${0x4252_4b52})`.execute(trx); // "BRKR"
}

export async function incidentsBetween(db: Db, since: Date, until: Date) {
  return db
    .selectFrom('incident')
    .select(['severity', 'autonomous', 'at'])
    .where('at', '>', since)
    .where('at', '<=', until)
    .execute();
}

/** The rule and scope of every unresolved breaker event. */
export async function openBreakerScopes(db: Db) {
  return db
    .selectFrom('circuit_breaker_event')
    .select(['rule_name', 'command_type'])
    .where('resolved_at', 'is', null)
    .execute();
}

export async function insertBreakerEvent(db: Db, trip: BreakerTrip, at: Date): Promise<string> {
  const event = await db
    .insertInto('circuit_breaker_event')
    .values({
      rule_name: trip.rule,
      action: trip.action,
      alert_severity: trip.alertSeverity,
      command_type: trip.commandType,
      observed: trip.observed,
      detail: trip.detail,
      at,
      resolved_at: null,
      resolved_by: null,
      resolution: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return String(event.id);
}

/** The governance state row, locked until the transaction ends. */
export async function lockGovernanceState(trx: Transaction<Database>) {
  return trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
}

/** Back to L3 at once; no proposal is under validation any more. */
export async function revertPhaseToL3(db: Db, at: Date): Promise<void> {
  await db
    .updateTable('governance_state')
    .set({ current_phase: 'L3', phase_since: at, active_proposal_id: null, updated_at: at })
    .execute();
}

/** Written with the revert, so the proposal is told even if the activity is retried (the outbox). */
export async function markRevertedProposal(db: Db, eventId: string, proposalId: string): Promise<void> {
  await db
    .updateTable('circuit_breaker_event')
    .set({ reverted_proposal_id: proposalId })
    .where('id', '=', eventId)
    .execute();
}

export async function setPausedCommandTypes(db: Db, types: string[], at: Date): Promise<void> {
  await db
    .updateTable('governance_state')
    .set({ paused_command_types: JSON.stringify(types), updated_at: at })
    .execute();
}

/** Reverts whose proposal has not been told yet (the outbox). */
/** One breaker event by id (the id as text, as a signal carries it). */
export function findBreakerEvent(db: Kysely<Database>, eventId: string) {
  return db
    .selectFrom('circuit_breaker_event')
    .select(['id', 'rule_name', 'detail', 'reverted_proposal_id'])
    .where('id', '=', eventId)
    .executeTakeFirst();
}

export async function pendingRevertNotices(db: Kysely<Database>) {
  return db
    .selectFrom('circuit_breaker_event')
    .select(['id', 'rule_name', 'detail', 'reverted_proposal_id'])
    .where('reverted_proposal_id', 'is not', null)
    .where('notified_at', 'is', null)
    .orderBy('id')
    .execute();
}

export async function markRevertNoticed(db: Kysely<Database>, eventId: string): Promise<void> {
  await db.updateTable('circuit_breaker_event').set({ notified_at: new Date() }).where('id', '=', eventId).execute();
}

export async function listBreakerEvents(db: Kysely<Database>, { unresolvedOnly = false } = {}) {
  let q = db.selectFrom('circuit_breaker_event').selectAll().orderBy('id', 'desc').limit(50);
  if (unresolvedOnly) q = q.where('resolved_at', 'is', null);
  return (await q.execute()).map((e) => ({
    id: String(e.id),
    rule: e.rule_name,
    action: e.action,
    alertSeverity: e.alert_severity,
    commandType: e.command_type,
    observed: e.observed,
    detail: e.detail,
    at: e.at.toISOString(),
    resolvedAt: e.resolved_at?.toISOString() ?? null,
    resolvedBy: e.resolved_by,
    resolution: e.resolution,
  }));
}

/** An event as its change request sees it, or null when there is none. */
export async function readBreakerEventState(db: Db, id: string): Promise<BreakerEventState | null> {
  const e = await db.selectFrom('circuit_breaker_event').selectAll().where('id', '=', id).executeTakeFirst();
  if (!e) return null;
  return {
    rule: e.rule_name,
    action: BreakerRuleSchema.shape.action.parse(e.action),
    commandType: e.command_type,
    resolved: e.resolved_at !== null,
    resolution: e.resolution,
  };
}

/** Resolving a pause event also lifts the pause on its command type. */
export async function resolveBreakerEvent(
  db: Db,
  id: string,
  actor: string,
  resolution: string,
  context: WriteContext = {},
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const event = await trx
      .selectFrom('circuit_breaker_event')
      .selectAll()
      .where('id', '=', id)
      .where('resolved_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!event) return false;
    await trx
      .updateTable('circuit_breaker_event')
      .set({ resolved_at: new Date(), resolved_by: actor, resolution })
      .where('id', '=', id)
      .execute();
    if (event.action === 'pause_command_type' && event.command_type) {
      const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
      await trx
        .updateTable('governance_state')
        .set({
          paused_command_types: JSON.stringify(state.paused_command_types.filter((t) => t !== event.command_type)),
          updated_at: new Date(),
        })
        .execute();
    }
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.breaker.resolved,
      subject: `breaker:${event.rule_name}`,
      details: { eventId: id, resolution, ...context },
    });
    return true;
  });
}
