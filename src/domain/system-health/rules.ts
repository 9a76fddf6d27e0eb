import type { CapitalUsage } from '../capital/bands';
import type { ApplyMode } from '../control-plane/types';

/**
 * Seed 004's R/Y/G health, read from what Warden already records.
 *
 * RED — production must not proceed without a person looking:
 * - `kill_switch_engaged`: the kill switch is engaged (by anyone or anything);
 * - `canary_failing`: an infrastructure canary check has failed `threshold`
 *   times in a row (the point at which the canary engages the kill switch);
 * - `breaker_reverted_autonomy`: an unresolved circuit-breaker event whose
 *   action reverted autonomy to L3;
 * - `breaker_critical`: an unresolved breaker event of critical severity;
 * - `critical_incident`: a critical incident within the health window.
 *
 * YELLOW — running, but degraded or restricted:
 * - `kill_switch_release_pending`: a release has approvals but needs more
 *   (reported besides the RED it stays while engaged, so it is not missed);
 * - `auto_disarmed`: the permit governor disarmed apply mode to dry_run
 *   within the window (go-live may still be on, but nothing runs live);
 * - `engine_throttled` / `engine_paused`: an active engine restriction;
 * - `tripwire_triggered`: a regression tripwire is triggered and not reset;
 * - `breaker_open`: an unresolved alert_only or pause_command_type event;
 * - `canary_degraded`: a canary check failing, still under the threshold;
 * - `strategy_paused`: a strategy paused by drift, health or an operator;
 * - `capital_band_c` / `capital_band_d`: committed exposure is past half of
 *   the GLOBAL daily cap, or near it (or no cap is set, so headroom is
 *   unknown). Band D is YELLOW, not RED: the risk gate still enforces the cap
 *   itself, so a full band denies deals rather than endangering anything; it
 *   warns and holds back playbook steps (which gate on the band separately).
 *
 * GREEN otherwise. The status is the worst reason's.
 */
export type HealthStatus = 'GREEN' | 'YELLOW' | 'RED';

export interface HealthReason {
  status: 'YELLOW' | 'RED';
  code: string;
  detail: string;
}

export interface HealthReport {
  status: HealthStatus;
  /** RED reasons first, then YELLOW; empty when GREEN. */
  reasons: HealthReason[];
}

export interface HealthSignals {
  controlPlane: {
    goLiveEnabled: boolean;
    killSwitchEngaged: boolean;
    killSwitchSource: string | null;
    applyMode: ApplyMode;
    reason: string | null;
    /** Approvals gathered so far towards releasing the engaged kill switch. */
    releaseApprovals: { actor: string; role: string }[];
  };
  canaryThreshold: number;
  canaryChecks: { name: string; consecutiveFailures: number; lastError: string | null }[];
  /** Unresolved circuit-breaker events. */
  openBreakerEvents: { id: string; rule: string; action: string; alertSeverity: string; detail: string }[];
  /** Critical incidents within the health window. */
  criticalIncidents: number;
  /** Active (uncleared) engine restrictions. */
  restrictions: { engine: string; kind: 'throttle' | 'pause'; source: string; reason: string }[];
  triggeredTripwires: { policy: string; dropFraction: number | null; triggeredAt: string | null }[];
  /** Governor auto-disarms within the health window. */
  autoDisarms: { symbol: string; reason: string; at: string }[];
  pausedStrategies: { id: string; reason: string | null }[];
  capital: CapitalUsage;
}

/** How far back disarms and critical incidents count towards health. */
export const HEALTH_WINDOW_MS = 24 * 60 * 60 * 1000;

const percent = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;

function capitalReason(capital: CapitalUsage): HealthReason | undefined {
  if (capital.band !== 'C' && capital.band !== 'D') return undefined;
  const detail =
    capital.usage === null
      ? 'no GLOBAL daily exposure cap is set: capital headroom is unknown'
      : `capital usage ${percent(capital.usage)} of the GLOBAL daily cap (${capital.committed} of ${capital.cap})`;
  return {
    status: 'YELLOW',
    code: `capital_band_${capital.band.toLowerCase()}`,
    detail: `band ${capital.band}: ${detail}`,
  };
}

export function assessHealth(signals: HealthSignals): HealthReport {
  const reasons: HealthReason[] = [];
  const red = (code: string, detail: string) => reasons.push({ status: 'RED', code, detail });
  const yellow = (code: string, detail: string) => reasons.push({ status: 'YELLOW', code, detail });
  const cp = signals.controlPlane;

  if (cp.killSwitchEngaged)
    red(
      'kill_switch_engaged',
      `kill switch engaged by ${cp.killSwitchSource ?? 'unknown'}: ${cp.reason ?? 'no reason given'}`,
    );
  for (const check of signals.canaryChecks) {
    if (check.consecutiveFailures >= signals.canaryThreshold) {
      red(
        'canary_failing',
        `canary ${check.name} failed ${check.consecutiveFailures} times in a row (threshold ${signals.canaryThreshold}): ${check.lastError ?? 'no error recorded'}`,
      );
    }
  }
  for (const event of signals.openBreakerEvents) {
    const what = `breaker ${event.rule} (event ${event.id}, ${event.action}, ${event.alertSeverity}): ${event.detail}`;
    if (event.action === 'revert_to_l3') red('breaker_reverted_autonomy', what);
    else if (event.alertSeverity === 'critical') red('breaker_critical', what);
    else yellow('breaker_open', what);
  }
  if (signals.criticalIncidents > 0)
    red('critical_incident', `${signals.criticalIncidents} critical incident(s) in the last 24 h`);

  if (cp.killSwitchEngaged && cp.releaseApprovals.length > 0) {
    yellow(
      'kill_switch_release_pending',
      `a kill-switch release waits for more approvals (approved so far by ${cp.releaseApprovals.map((a) => `${a.actor} as ${a.role}`).join(', ')})`,
    );
  }
  if (signals.autoDisarms.length > 0) {
    const latest = signals.autoDisarms[0]!;
    const now =
      cp.goLiveEnabled && cp.applyMode === 'dry_run'
        ? 'go-live is on but apply mode is dry_run'
        : `apply mode is ${cp.applyMode}`;
    yellow(
      'auto_disarmed',
      `${signals.autoDisarms.length} governor auto-disarm(s) in the last 24 h, latest ${latest.at} on ${latest.symbol} (${latest.reason}); ${now}`,
    );
  }
  for (const r of signals.restrictions)
    yellow(
      r.kind === 'throttle' ? 'engine_throttled' : 'engine_paused',
      `engine ${r.engine} ${r.kind}d by ${r.source}: ${r.reason}`,
    );
  for (const t of signals.triggeredTripwires) {
    yellow(
      'tripwire_triggered',
      `tripwire ${t.policy} triggered${t.triggeredAt ? ` at ${t.triggeredAt}` : ''}${t.dropFraction === null ? '' : `, drop ${percent(t.dropFraction)}`}; reset after review`,
    );
  }
  for (const check of signals.canaryChecks) {
    if (check.consecutiveFailures > 0 && check.consecutiveFailures < signals.canaryThreshold) {
      yellow(
        'canary_degraded',
        `canary ${check.name} failed ${check.consecutiveFailures} of ${signals.canaryThreshold} times before it trips: ${check.lastError ?? 'no error recorded'}`,
      );
    }
  }
  for (const s of signals.pausedStrategies)
    yellow('strategy_paused', `strategy ${s.id} paused: ${s.reason ?? 'no reason recorded'}`);
  const capital = capitalReason(signals.capital);
  if (capital) reasons.push(capital);

  reasons.sort((a, b) => (a.status === b.status ? 0 : a.status === 'RED' ? -1 : 1));
  const status: HealthStatus = reasons.length === 0 ? 'GREEN' : reasons[0]!.status;
  return { status, reasons };
}
