import { type Kysely, sql } from 'kysely';
import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../src/domain/capital/bands';
import { createBandWatcher } from './capital-band';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import type { Database } from '../src/db/database';
import { appendAuditEvent, recordAuditEvents } from '../src/db/audit.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import {
  enabledRegressionPolicies,
  lockRegressionState,
  lockTripwire,
  kpiComparison,
  saveCanaryState,
  saveRegressionState,
} from '../src/db/watchdogs.repository';
import type { WatchdogActivities } from '../src/domain/watchdogs/activities';
import { evaluateRegression, type TripwireReport } from '../src/domain/watchdogs/tripwire';
import { nextRegressionState } from '../src/domain/watchdogs/tripwire-state';
import type { CheckResult } from '../src/domain/watchdogs/canary';

/** Health checks a user registers in code: resolve when healthy, throw when not. */
export type CanaryChecks = Record<string, () => Promise<void>>;

export interface WatchdogActivityDeps {
  db: Kysely<Database>;
  controlPlane: Pick<ControlPlanePort, 'engageKillSwitch' | 'refreshCapitalBand' | 'restrictEngine'>;
  capitalBands?: CapitalBandThresholds;
  /** Reaches the Temporal frontend (e.g. getSystemInfo). */
  pingTemporal: () => Promise<void>;
  canaryChecks?: CanaryChecks;
}

async function timed(name: string, check: () => Promise<unknown>): Promise<CheckResult> {
  const started = Date.now();
  try {
    await check();
    return { name, ok: true, durationMs: Date.now() - started };
  } catch (error) {
    return {
      name,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      durationMs: Date.now() - started,
    };
  }
}

export function createWatchdogActivities({
  db,
  controlPlane,
  pingTemporal,
  canaryChecks = {},
  capitalBands = DEFAULT_CAPITAL_BANDS,
}: WatchdogActivityDeps): WatchdogActivities {
  const nudgeCapitalBand = createBandWatcher({ db, capitalBands, controlPlane });
  return {
    async evaluateRegressionPolicies(input) {
      const report = await evaluateRegressionPolicies(db, new Date(input.at));
      // Each tripwire run also re-measures capital, so the band follows releases and the day's rollover.
      await nudgeCapitalBand('tripwire');
      return report;
    },

    /** Through the control plane, the one writer of engine restrictions (signal-with-start, audited there). */
    async applyEngineRestriction(input) {
      await controlPlane.restrictEngine({
        engine: input.engine,
        restriction: input.kind,
        source: input.source,
        actor: 'tripwire',
        reason: input.reason,
      });
    },

    /** A watchdog's kill switch: signal-with-start, so it lands even if the control plane was not running. */
    async engageKillSwitch(input) {
      await controlPlane.engageKillSwitch({
        source: input.source,
        actor: input.source,
        reason: input.reason,
        ...(input.mode !== undefined ? { mode: input.mode } : {}),
      });
    },

    // Checks report a failure as a result; only a timeout surfaces as an activity failure.
    checkPostgres: () => timed('postgres', () => sql`select 1`.execute(db)),
    checkTemporal: () => timed('temporal', pingTemporal),
    checkHttp: (probe) =>
      timed(probe.name, async () => {
        const response = await fetch(probe.url, { signal: AbortSignal.timeout(probe.timeoutMs), redirect: 'manual' });
        if (response.status >= 400) throw new Error(`HTTP ${response.status} from ${probe.url}`);
      }),
    listRegisteredChecks: async () => Object.keys(canaryChecks).sort(),
    runRegisteredCheck: (input) =>
      timed(input.name, async () => {
        const check = canaryChecks[input.name];
        if (!check) throw new Error(`no check registered as ${input.name}`);
        await check();
      }),

    async recordCanaryRun(input) {
      const at = new Date(input.at);
      await saveCanaryState(db, input.results, input.consecutiveFailures, at);
      const failing = input.results
        .filter((r) => !r.ok)
        .map((r) => ({
          name: r.name,
          error: r.error ?? 'failed',
          consecutiveFailures: input.consecutiveFailures[r.name],
        }));
      await recordAuditEvents(db, [
        ...(input.tripped.length > 0
          ? [
              {
                actor: 'canary',
                kind: AuditKind.canary.tripped,
                subject: 'canary',
                details: { tripped: input.tripped, failing },
                idempotencyKey: `canary-tripped:${input.at}`,
              },
            ]
          : []),
        ...input.recovered.map((name) => ({
          actor: 'canary',
          kind: AuditKind.canary.recovered,
          subject: `check:${name}`,
          details: { name },
          idempotencyKey: `canary-recovered:${input.at}:${name}`,
        })),
      ]);
    },
  };
}

/**
 * Seed 000's regression tripwire: every enabled policy is evaluated on its
 * KPI window (src/domain/watchdogs) and its state recorded, one evaluation at
 * a time. A policy already triggered does not fire again until an operator resets it.
 */
export async function evaluateRegressionPolicies(db: Kysely<Database>, at: Date): Promise<TripwireReport> {
  return db.transaction().execute(async (trx) => {
    await lockTripwire(trx);
    const report: TripwireReport = { evaluated: [], fired: [] };
    for (const policy of await enabledRegressionPolicies(trx)) {
      const result = evaluateRegression(policy, await kpiComparison(trx, policy, at));
      const { values, evaluated, firing } = nextRegressionState(
        policy,
        result,
        await lockRegressionState(trx, policy),
        at,
      );
      await saveRegressionState(trx, policy, values);
      report.evaluated.push(evaluated);
      if (firing) {
        report.fired.push(firing);
        await appendAuditEvent(trx, {
          actor: 'tripwire',
          kind: AuditKind.tripwire.triggered,
          subject: `tripwire:${firing.policy}`,
          details: { ...firing },
        });
      }
    }
    return report;
  });
}
