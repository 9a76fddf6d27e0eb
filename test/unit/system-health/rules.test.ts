import { describe, expect, it } from 'vitest';
import { measureCapitalUsage, DEFAULT_CAPITAL_BANDS } from '../../../src/domain/capital/bands';
import { assessHealth, type HealthSignals } from '../../../src/domain/system-health/rules';

const calm: HealthSignals = {
  controlPlane: {
    goLiveEnabled: true,
    killSwitchEngaged: false,
    killSwitchSource: null,
    applyMode: 'live',
    reason: null,
    releaseApprovals: [],
  },
  canaryThreshold: 3,
  canaryChecks: [],
  openBreakerEvents: [],
  criticalIncidents: 0,
  restrictions: [],
  triggeredTripwires: [],
  autoDisarms: [],
  pausedStrategies: [],
  capital: measureCapitalUsage(100, 1000, '2026-12-07', DEFAULT_CAPITAL_BANDS),
};
const codes = (signals: Partial<HealthSignals>) =>
  assessHealth({ ...calm, ...signals }).reasons.map((r) => `${r.status}:${r.code}`);

describe('R/Y/G health (seed 004)', () => {
  it('is GREEN with no reasons when nothing is wrong and capital is in band A', () => {
    expect(assessHealth(calm)).toEqual({ status: 'GREEN', reasons: [] });
  });

  it('is RED while the kill switch is engaged, naming who engaged it and why', () => {
    const report = assessHealth({
      ...calm,
      controlPlane: {
        ...calm.controlPlane,
        killSwitchEngaged: true,
        killSwitchSource: 'tripwire',
        reason: 'contract rate dropped',
      },
    });
    expect(report.status).toBe('RED');
    expect(report.reasons).toEqual([
      { status: 'RED', code: 'kill_switch_engaged', detail: 'kill switch engaged by tripwire: contract rate dropped' },
    ]);
  });

  it('turns a canary RED at its threshold and YELLOW below it', () => {
    expect(codes({ canaryChecks: [{ name: 'temporal', consecutiveFailures: 3, lastError: 'refused' }] })).toEqual([
      'RED:canary_failing',
    ]);
    expect(codes({ canaryChecks: [{ name: 'temporal', consecutiveFailures: 5, lastError: null }] })).toEqual([
      'RED:canary_failing',
    ]);
    expect(codes({ canaryChecks: [{ name: 'temporal', consecutiveFailures: 2, lastError: 'refused' }] })).toEqual([
      'YELLOW:canary_degraded',
    ]);
    expect(codes({ canaryChecks: [{ name: 'temporal', consecutiveFailures: 0, lastError: null }] })).toEqual([]);
  });

  it('is RED for an open breaker event that reverted autonomy or is critical, YELLOW for the others', () => {
    const event = { id: '1', rule: 'r', action: 'alert_only', alertSeverity: 'medium', detail: 'd' };
    expect(codes({ openBreakerEvents: [{ ...event, action: 'revert_to_l3' }] })).toEqual([
      'RED:breaker_reverted_autonomy',
    ]);
    expect(codes({ openBreakerEvents: [{ ...event, alertSeverity: 'critical' }] })).toEqual(['RED:breaker_critical']);
    expect(codes({ openBreakerEvents: [event, { ...event, action: 'pause_command_type' }] })).toEqual([
      'YELLOW:breaker_open',
      'YELLOW:breaker_open',
    ]);
  });

  it('is RED for a critical incident in the window', () => {
    expect(codes({ criticalIncidents: 2 })).toEqual(['RED:critical_incident']);
  });

  it('adds a pending release to the RED of an engaged kill switch', () => {
    const report = assessHealth({
      ...calm,
      controlPlane: {
        ...calm.controlPlane,
        killSwitchEngaged: true,
        releaseApprovals: [{ actor: 'olga', role: 'ops_lead' }],
      },
    });
    expect(report.reasons.map((r) => `${r.status}:${r.code}`)).toEqual([
      'RED:kill_switch_engaged',
      'YELLOW:kill_switch_release_pending',
    ]);
    expect(report.reasons[1]!.detail).toContain('olga as ops_lead');
  });

  it('is YELLOW for restrictions, triggered tripwires, disarms and paused strategies', () => {
    expect(
      codes({
        restrictions: [
          { engine: 'WHOLESALE', kind: 'throttle', source: 'tripwire:WHOLESALE/contract_rate', reason: 'drop' },
          { engine: 'RETAIL', kind: 'pause', source: 'operator', reason: 'review' },
        ],
        triggeredTripwires: [
          { policy: 'WHOLESALE/contract_rate', dropFraction: 0.21, triggeredAt: '2026-12-06T10:00:00.000Z' },
        ],
        autoDisarms: [{ symbol: 'BTC', reason: 'burst_limit_breach', at: '2026-12-06T11:00:00.000Z' }],
        pausedStrategies: [{ id: 'mean-revert', reason: 'drift' }],
      }),
    ).toEqual([
      'YELLOW:auto_disarmed',
      'YELLOW:engine_throttled',
      'YELLOW:engine_paused',
      'YELLOW:tripwire_triggered',
      'YELLOW:strategy_paused',
    ]);
  });

  it('says when go-live is on but the governor left apply mode in dry_run', () => {
    const report = assessHealth({
      ...calm,
      controlPlane: { ...calm.controlPlane, applyMode: 'dry_run' },
      autoDisarms: [{ symbol: 'BTC', reason: 'burst_limit_breach', at: '2026-12-06T11:00:00.000Z' }],
    });
    expect(report.status).toBe('YELLOW');
    expect(report.reasons[0]!.detail).toContain('go-live is on but apply mode is dry_run');
  });

  it('is YELLOW in capital bands C and D (and without a cap), GREEN in A and B', () => {
    const band = (committed: number, cap: number | null) =>
      codes({ capital: measureCapitalUsage(committed, cap, '2026-12-07', DEFAULT_CAPITAL_BANDS) });
    expect(band(300, 1000)).toEqual([]);
    expect(band(500, 1000)).toEqual(['YELLOW:capital_band_c']);
    expect(band(900, 1000)).toEqual(['YELLOW:capital_band_d']);
    const uncapped = assessHealth({
      ...calm,
      capital: measureCapitalUsage(0, null, '2026-12-07', DEFAULT_CAPITAL_BANDS),
    });
    expect(uncapped.reasons).toEqual([
      {
        status: 'YELLOW',
        code: 'capital_band_d',
        detail: 'band D: no GLOBAL daily exposure cap is set: capital headroom is unknown',
      },
    ]);
  });

  it('takes the worst status and lists RED reasons before YELLOW ones', () => {
    const report = assessHealth({
      ...calm,
      restrictions: [{ engine: 'WHOLESALE', kind: 'pause', source: 'operator', reason: 'review' }],
      controlPlane: { ...calm.controlPlane, killSwitchEngaged: true, killSwitchSource: 'operator', reason: 'drill' },
    });
    expect(report.status).toBe('RED');
    expect(report.reasons.map((r) => r.status)).toEqual(['RED', 'YELLOW']);
  });
});
