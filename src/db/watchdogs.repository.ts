import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Restriction } from '../domain/watchdogs/activities';
import { type CheckResult } from '../domain/watchdogs/canary';
import { type KpiComparison, policyId, type RegressionPolicy, rollingComparison } from '../domain/watchdogs/tripwire';
import type { RegressionStateValues } from '../domain/watchdogs/tripwire-state';
import { ErrorType } from '../domain/shared/errors';

export type { TripwireFiring, TripwireReport } from '../domain/watchdogs/tripwire';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database, RegressionPolicyTable } from './database';
import { clearRows, toRestriction } from './restrictions.repository';
import { type WriteContext, inTransaction } from './transaction';

// Restrictions moved to their own repository; re-exported for existing callers.
export * from './restrictions.repository';

const TRIPWIRE_LOCK = 0x5452_4950; // "TRIP": one evaluation at a time

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

function toPolicy(row: Selectable<RegressionPolicyTable>): RegressionPolicy {
  return {
    domain: row.domain,
    metric: row.metric,
    engine: row.engine,
    windowEvents: row.window_events,
    baselineEvents: row.baseline_events,
    maxDropFraction: row.max_drop_fraction,
    action: row.action,
    enabled: row.enabled,
    ...(row.baseline_since ? { baselineSince: row.baseline_since.toISOString() } : {}),
  };
}

export async function listRegressionPolicies(db: Db): Promise<RegressionPolicy[]> {
  return (await db.selectFrom('regression_policy').selectAll().orderBy('domain').orderBy('metric').execute()).map(
    toPolicy,
  );
}

export async function setRegressionPolicy(
  db: Db,
  policy: RegressionPolicy,
  actor: string,
  context: WriteContext = {},
): Promise<RegressionPolicy> {
  return inTransaction(db, async (trx) => {
    const values = {
      engine: policy.engine,
      window_events: policy.windowEvents,
      baseline_events: policy.baselineEvents,
      max_drop_fraction: policy.maxDropFraction,
      action: policy.action,
      enabled: policy.enabled,
      baseline_since: policy.baselineSince ? new Date(policy.baselineSince) : null,
      updated_by: actor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('regression_policy')
      .values({ domain: policy.domain, metric: policy.metric, ...values })
      .onConflict((oc) => oc.columns(['domain', 'metric']).doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.tripwire.policySet,
      subject: `tripwire:${policyId(policy)}`,
      details: { policy, ...context },
    });
    return policy;
  });
}

/** One tripwire evaluation at a time: held until the caller's transaction ends. */
export async function lockTripwire(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${TRIPWIRE_LOCK})`.execute(trx);
}

export async function enabledRegressionPolicies(db: Db): Promise<RegressionPolicy[]> {
  return (
    await db
      .selectFrom('regression_policy')
      .selectAll()
      .where('enabled', '=', true)
      .orderBy('domain')
      .orderBy('metric')
      .execute()
  ).map(toPolicy);
}

/**
 * What a policy compares at `at`: the seed's rolling window and baseline, or, after a baseline reset, the
 * first `baselineEvents` events from the reset (pinned) against the newest events after them.
 */
export async function kpiComparison(db: Db, policy: RegressionPolicy, at: Date): Promise<KpiComparison> {
  const events = db
    .selectFrom('kpi_event')
    .select(['id', 'at', 'success', 'value'])
    .where('domain', '=', policy.domain)
    .where('metric', '=', policy.metric)
    .where('at', '<=', at);
  if (policy.baselineSince === undefined) {
    const newestFirst = await events
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(policy.windowEvents + policy.baselineEvents)
      .execute();
    return rollingComparison(policy, newestFirst);
  }
  const pinned = await events
    .where('at', '>=', new Date(policy.baselineSince))
    .orderBy('at', 'asc')
    .orderBy('id', 'asc')
    .limit(policy.baselineEvents)
    .execute();
  const last = pinned.at(-1);
  const recent =
    last === undefined || pinned.length < policy.baselineEvents
      ? []
      : await events
          .where((eb) => eb.or([eb('at', '>', last.at), eb.and([eb('at', '=', last.at), eb('id', '>', last.id)])]))
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(policy.windowEvents)
          .execute();
  return { recent, before: pinned.reverse() };
}

/** How many KPI events a policy has had since `since` (up to `at`), counted no further than `upTo`. */
export async function kpiEventsSince(db: Db, policy: RegressionPolicy, since: Date, at: Date, upTo: number) {
  const rows = await db
    .selectFrom('kpi_event')
    .select('id')
    .where('domain', '=', policy.domain)
    .where('metric', '=', policy.metric)
    .where('at', '>=', since)
    .where('at', '<=', at)
    .limit(upTo)
    .execute();
  return rows.length;
}

/** A policy's stored state, locked until the transaction ends. */
export async function lockRegressionState(trx: Transaction<Database>, policy: { domain: string; metric: string }) {
  return trx
    .selectFrom('regression_state')
    .selectAll()
    .where('domain', '=', policy.domain)
    .where('metric', '=', policy.metric)
    .forUpdate()
    .executeTakeFirst();
}

export async function saveRegressionState(
  db: Db,
  policy: { domain: string; metric: string },
  values: RegressionStateValues,
): Promise<void> {
  await db
    .insertInto('regression_state')
    .values({ domain: policy.domain, metric: policy.metric, ...values })
    .onConflict((oc) => oc.columns(['domain', 'metric']).doUpdateSet(values))
    .execute();
}

export async function regressionStates(db: Kysely<Database>) {
  const rows = await db.selectFrom('regression_state').selectAll().orderBy('domain').orderBy('metric').execute();
  return rows.map((r) => ({
    policy: policyId(r),
    triggered: r.triggered,
    lastDecision: r.last_decision,
    baseline: r.baseline,
    current: r.current,
    dropFraction: r.drop_fraction,
    windowCount: r.window_count,
    baselineCount: r.baseline_count,
    lastCheckedAt: r.last_checked_at.toISOString(),
    triggeredAt: r.triggered_at?.toISOString() ?? null,
  }));
}

export class TripwireNotFoundError extends Error {
  override name = ErrorType.TripwireNotFound;
}

/** After review: the tripwire may fire again, and what it throttled or paused is lifted. */
export async function resetTripwire(
  db: Kysely<Database>,
  policy: { domain: string; metric: string },
  actor: string,
  reason: string,
  /** Lift the tripwire's restrictions here too; operators' paths pass false and clear them through the control plane. */
  { liftRestrictions = true }: { liftRestrictions?: boolean } = {},
): Promise<{ policy: string; lifted: Restriction[]; toLift: Restriction[] }> {
  return db.transaction().execute(async (trx) => {
    const exists = await trx
      .selectFrom('regression_policy')
      .select('domain')
      .where('domain', '=', policy.domain)
      .where('metric', '=', policy.metric)
      .executeTakeFirst();
    if (!exists) throw new TripwireNotFoundError(`no regression policy ${policyId(policy)}`);
    await trx
      .updateTable('regression_state')
      .set({ triggered: false, triggered_at: null, last_decision: 'reset' })
      .where('domain', '=', policy.domain)
      .where('metric', '=', policy.metric)
      .execute();
    const rows = await trx
      .selectFrom('engine_restriction')
      .selectAll()
      .where('source', '=', `tripwire:${policyId(policy)}`)
      .where('cleared_at', 'is', null)
      .forUpdate()
      .execute();
    const lifted = liftRestrictions ? await clearRows(trx, rows, actor, reason) : [];
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.tripwire.reset,
      subject: `tripwire:${policyId(policy)}`,
      details: { reason, lifted: lifted.map((r) => r.id) },
    });
    return { policy: policyId(policy), lifted, toLift: liftRestrictions ? [] : rows.map(toRestriction) };
  });
}

/** Persists the canary's per-check counts (what the next run also receives from the schedule). */
export async function saveCanaryState(
  db: Kysely<Database>,
  results: CheckResult[],
  consecutiveFailures: Record<string, number>,
  at: Date,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const r of results) {
      const values = {
        consecutive_failures: consecutiveFailures[r.name] ?? 0,
        last_ok: r.ok,
        last_error: r.error ?? null,
        last_checked_at: at,
        ...(r.ok ? {} : { last_failure_at: at }),
      };
      await trx
        .insertInto('canary_check_state')
        .values({ name: r.name, ...values })
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({
            ...values,
            // Recovered: it failed last time and passes now.
            last_recovered_at: r.ok
              ? sql`case when canary_check_state.last_ok then canary_check_state.last_recovered_at else ${at} end`
              : sql`canary_check_state.last_recovered_at`,
          }),
        )
        .execute();
    }
  });
}

export async function canaryStates(db: Kysely<Database>) {
  const rows = await db.selectFrom('canary_check_state').selectAll().orderBy('name').execute();
  return rows.map((r) => ({
    name: r.name,
    ok: r.last_ok,
    consecutiveFailures: r.consecutive_failures,
    lastError: r.last_error,
    lastCheckedAt: r.last_checked_at.toISOString(),
    lastFailureAt: r.last_failure_at?.toISOString() ?? null,
    lastRecoveredAt: r.last_recovered_at?.toISOString() ?? null,
  }));
}

/** Canary checks failing now, at least `threshold` times in a row. */
export async function failingCanaryChecks(db: Db, threshold: number): Promise<string[]> {
  const rows = await db
    .selectFrom('canary_check_state')
    .select('name')
    .where('last_ok', '=', false)
    .where('consecutive_failures', '>=', threshold)
    .execute();
  return rows.map((r) => r.name);
}
