import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { WatchdogActivities } from '../src/domain/watchdogs/activities';
import {
  type CanaryInput,
  CanaryInputSchema,
  type CanaryRunResult,
  type CheckResult,
  nextCanaryState,
} from '../src/domain/watchdogs/canary';
import { parseInput } from '../src/domain/shared/errors';
import { Visibility } from './lib/visibility';

const steady = proxyActivities<WatchdogActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/**
 * Seed 001's infrastructure canary, run by a Schedule. Each check is one
 * short activity; consecutive failures come over from the previous run. At
 * the threshold the kill switch is engaged; releasing it stays a human call.
 */
export async function infrastructureCanary(rawInput: CanaryInput = {}): Promise<CanaryRunResult> {
  const input = parseInput(CanaryInputSchema, rawInput ?? {}, 'infrastructureCanary input');
  const visibility = new Visibility().decide();
  const previous = (workflowInfo().lastResult as CanaryRunResult | undefined)?.consecutiveFailures ?? {};
  // One attempt each: a check that cannot answer in time has failed.
  const probe = proxyActivities<WatchdogActivities>({
    startToCloseTimeout: input.checkTimeoutMs,
    retry: { maximumAttempts: 1 },
  });
  const guard = async (name: string, run: Promise<CheckResult>): Promise<CheckResult> => {
    try {
      return await run;
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      return { name, ok: false, error: error.cause?.message ?? error.message, durationMs: input.checkTimeoutMs };
    }
  };
  const registered = await steady.listRegisteredChecks();
  const results = await Promise.all([
    guard('postgres', probe.checkPostgres()),
    guard('temporal', probe.checkTemporal()),
    ...input.httpProbes.map((p) =>
      guard(p.name, probe.checkHttp({ name: p.name, url: p.url, timeoutMs: p.timeoutMs })),
    ),
    ...registered.map((name) => guard(name, probe.runRegisteredCheck({ name }))),
  ]);
  const next = nextCanaryState(previous, results, input.threshold);
  if (next.tripped.length > 0) {
    const failing = results
      .filter((r) => next.tripped.includes(r.name))
      .map((r) => `${r.name} (${r.error ?? 'failed'})`);
    await steady.engageKillSwitch({
      source: 'canary',
      reason: `canary: ${input.threshold} consecutive failures of ${failing.join(', ')}`,
      ...(input.action === 'REDUCE_ONLY' ? { mode: 'reduce' as const } : {}),
    });
  }
  await steady.recordCanaryRun({ at: new Date().toISOString(), results, ...next });
  const failing = results.filter((r) => !r.ok).map((r) => r.name);
  visibility.show(
    { outcome: next.tripped.length > 0 ? 'tripped' : failing.length > 0 ? 'failing' : 'healthy' },
    failing.length > 0 ? `Failing: ${failing.join(', ')}` : `All ${results.length} checks passed`,
  );
  return { ...next, results };
}
