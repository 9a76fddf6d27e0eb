import { readControlPlaneState } from './control-plane.repository';
import type { Kysely } from 'kysely';
import type { CapitalBandThresholds, CapitalUsage } from '../domain/capital/bands';
import { assessHealth, HEALTH_WINDOW_MS, type HealthReport } from '../domain/system-health/rules';
import { policyId } from '../domain/watchdogs/tripwire';
import { readCapitalUsage } from './capital.repository';
import type { Database } from './database';

export interface HealthOptions {
  capitalBands: CapitalBandThresholds;
  /** Consecutive canary failures that trip the canary (config.watchdogs.canaryThreshold). */
  canaryThreshold?: number;
}

/** The canary workflow's default threshold, used when the caller passes none. */
const DEFAULT_CANARY_THRESHOLD = 3;

/** R/Y/G health from the state Postgres holds now, with the capital band it was judged on. */
export async function readHealth(
  db: Kysely<Database>,
  options: HealthOptions,
  at = new Date(),
): Promise<HealthReport & { band: CapitalUsage }> {
  const windowStart = new Date(at.getTime() - HEALTH_WINDOW_MS);
  const [controlPlane, canaries, breakers, incidents, restrictions, tripwires, disarms, strategies, capital] =
    await Promise.all([
      readControlPlaneState(db),
      db
        .selectFrom('canary_check_state')
        .select(['name', 'consecutive_failures', 'last_error'])
        .where('consecutive_failures', '>', 0)
        .orderBy('name')
        .execute(),
      db
        .selectFrom('circuit_breaker_event')
        .select(['id', 'rule_name', 'action', 'alert_severity', 'detail'])
        .where('resolved_at', 'is', null)
        .orderBy('id')
        .execute(),
      db
        .selectFrom('incident')
        .select(db.fn.countAll<string>().as('n'))
        .where('severity', '=', 'critical')
        .where('at', '>', windowStart)
        .where('at', '<=', at)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('engine_restriction')
        .select(['engine', 'kind', 'source', 'reason'])
        .where('cleared_at', 'is', null)
        .orderBy('id')
        .execute(),
      db
        .selectFrom('regression_state')
        .select(['domain', 'metric', 'drop_fraction', 'triggered_at'])
        .where('triggered', '=', true)
        .orderBy('domain')
        .orderBy('metric')
        .execute(),
      db
        .selectFrom('disarm_record')
        .select(['symbol', 'reason', 'at'])
        .where('at', '>', windowStart)
        .where('at', '<=', at)
        .orderBy('at', 'desc')
        .execute(),
      db.selectFrom('strategy').select(['id', 'paused_reason']).where('paused', '=', true).orderBy('id').execute(),
      readCapitalUsage(db, options.capitalBands, at),
    ]);
  const report = assessHealth({
    controlPlane,
    canaryThreshold: options.canaryThreshold ?? DEFAULT_CANARY_THRESHOLD,
    canaryChecks: canaries.map((c) => ({
      name: c.name,
      consecutiveFailures: c.consecutive_failures,
      lastError: c.last_error,
    })),
    openBreakerEvents: breakers.map((e) => ({
      id: String(e.id),
      rule: e.rule_name,
      action: e.action,
      alertSeverity: e.alert_severity,
      detail: e.detail,
    })),
    criticalIncidents: Number(incidents.n),
    restrictions,
    triggeredTripwires: tripwires.map((t) => ({
      policy: policyId(t),
      dropFraction: t.drop_fraction,
      triggeredAt: t.triggered_at?.toISOString() ?? null,
    })),
    autoDisarms: disarms.map((d) => ({ symbol: d.symbol, reason: d.reason, at: d.at.toISOString() })),
    pausedStrategies: strategies.map((s) => ({ id: s.id, reason: s.paused_reason })),
    capital,
  });
  return { ...report, band: capital };
}
