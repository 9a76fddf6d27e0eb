import { proxyActivities } from '@temporalio/workflow';
import type { WatchdogActivities } from '../src/domain/watchdogs/activities';
import type { TripwireReport } from '../src/domain/watchdogs/tripwire';
import { Visibility } from './lib/visibility';

const { evaluateRegressionPolicies, applyEngineRestriction, engageKillSwitch } = proxyActivities<WatchdogActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30 seconds' },
});

/**
 * Seed 000 Lever 4, run by a Schedule (and on demand): compares each enabled
 * policy's recent KPI window with its baseline and acts on what newly fired.
 */
export async function regressionTripwire(): Promise<TripwireReport> {
  const visibility = new Visibility().decide();
  const report = await evaluateRegressionPolicies({ at: new Date().toISOString() });
  for (const f of report.fired) {
    const reason = `${f.policy} dropped ${(f.dropFraction * 100).toFixed(1)}% (baseline ${f.baseline.toFixed(3)}, current ${f.current.toFixed(3)})`;
    if (f.action === 'KILL_SWITCH') await engageKillSwitch({ source: 'tripwire', reason });
    else if (f.action === 'REDUCE_ONLY') await engageKillSwitch({ source: 'tripwire', reason, mode: 'reduce' });
    else
      await applyEngineRestriction({
        engine: f.engine,
        kind: f.action === 'THROTTLE' ? 'throttle' : 'pause',
        source: `tripwire:${f.policy}`,
        reason,
      });
  }
  visibility.show(
    { outcome: report.fired.length > 0 ? 'fired' : 'quiet' },
    report.fired.length > 0
      ? `Fired: ${report.fired.map((f) => `${f.policy} → ${f.action}`).join(', ')}`
      : 'Nothing fired',
  );
  return report;
}
