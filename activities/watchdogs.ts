import type { Kysely } from 'kysely';
import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../src/domain/capital/bands';
import { createBandWatcher } from './capital-band';
import type { WardenClient } from '../src/client';
import { recordAuditEvents } from '../src/db/audit.repository';
import type { Database } from '../src/db/database';
import { applyRestriction, evaluateRegressionPolicies, saveCanaryState } from '../src/db/watchdogs.repository';
import type { CheckResult } from '../src/domain/watchdogs/canary';
import { sql } from 'kysely';

/** Health checks a user registers in code: resolve when healthy, throw when not. */
export type CanaryChecks = Record<string, () => Promise<void>>;

export interface WatchdogActivityDeps {
  db: Kysely<Database>;
  controlPlane: Pick<WardenClient, 'engageKillSwitch' | 'refreshCapitalBand'>;
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
    return { name, ok: false, error: error instanceof Error ? error.message : String(error), durationMs: Date.now() - started };
  }
}

export function createWatchdogActivities({ db, controlPlane, pingTemporal, canaryChecks = {}, capitalBands = DEFAULT_CAPITAL_BANDS }: WatchdogActivityDeps) {
  const nudgeCapitalBand = createBandWatcher({ db, capitalBands, controlPlane });
  return {
    async evaluateRegressionPolicies(input: { at: string }) {
      const report = await evaluateRegressionPolicies(db, new Date(input.at));
      // Each tripwire run also re-measures capital, so the band follows releases and the day's rollover.
      await nudgeCapitalBand('tripwire');
      return report;
    },

    applyEngineRestriction: (input: { engine: string; kind: 'throttle' | 'pause'; source: string; reason: string }) =>
      applyRestriction(db, { ...input, actor: 'tripwire' }),

    /** A watchdog's kill switch: signal-with-start, so it lands even if the control plane was not running. */
    async engageKillSwitch(input: { source: 'tripwire' | 'canary'; reason: string }): Promise<void> {
      await controlPlane.engageKillSwitch({ source: input.source, actor: input.source, reason: input.reason });
    },

    // Checks report a failure as a result; only a timeout surfaces as an activity failure.
    checkPostgres: () => timed('postgres', () => sql`select 1`.execute(db)),
    checkTemporal: () => timed('temporal', pingTemporal),
    checkHttp: (probe: { name: string; url: string; timeoutMs: number }) =>
      timed(probe.name, async () => {
        const response = await fetch(probe.url, { signal: AbortSignal.timeout(probe.timeoutMs), redirect: 'manual' });
        if (response.status >= 400) throw new Error(`HTTP ${response.status} from ${probe.url}`);
      }),
    listRegisteredChecks: async (): Promise<string[]> => Object.keys(canaryChecks).sort(),
    runRegisteredCheck: (input: { name: string }) =>
      timed(input.name, async () => {
        const check = canaryChecks[input.name];
        if (!check) throw new Error(`no check registered as ${input.name}`);
        await check();
      }),

    async recordCanaryRun(input: { at: string; results: CheckResult[]; consecutiveFailures: Record<string, number>; tripped: string[]; recovered: string[] }): Promise<void> {
      const at = new Date(input.at);
      await saveCanaryState(db, input.results, input.consecutiveFailures, at);
      const failing = input.results.filter((r) => !r.ok).map((r) => ({ name: r.name, error: r.error ?? 'failed', consecutiveFailures: input.consecutiveFailures[r.name] }));
      await recordAuditEvents(db, [
        ...(input.tripped.length > 0
          ? [{ actor: 'canary', kind: 'canary.tripped', subject: 'canary', details: { tripped: input.tripped, failing }, idempotencyKey: `canary-tripped:${input.at}` }]
          : []),
        ...input.recovered.map((name) => ({ actor: 'canary', kind: 'canary.recovered', subject: `check:${name}`, details: { name }, idempotencyKey: `canary-recovered:${input.at}:${name}` })),
      ]);
    },
  };
}

export type WatchdogActivities = ReturnType<typeof createWatchdogActivities>;
