import { policyId, type RegressionDecision, type RegressionPolicy, type TripwireFiring } from './tripwire';

export interface RegressionStateValues {
  triggered: boolean;
  last_decision: string;
  baseline: number | null;
  current: number | null;
  drop_fraction: number | null;
  window_count: number;
  baseline_count: number;
  last_checked_at: Date;
  triggered_at: Date | null;
}

/**
 * One policy's evaluation against its stored state. A policy already
 * triggered does not fire again until an operator resets it.
 */
export function nextRegressionState(
  policy: RegressionPolicy,
  result: RegressionDecision,
  prior: { triggered: boolean; triggered_at: Date | null } | undefined,
  at: Date,
) {
  const alreadyTriggered = prior?.triggered ?? false;
  const fires = result.decision === 'triggered' && !alreadyTriggered;
  const decision = result.decision === 'triggered' && alreadyTriggered ? 'still_triggered' : result.decision;
  const measured =
    result.decision === 'insufficient_data'
      ? { baseline: null, current: null, drop_fraction: null }
      : { baseline: result.baseline, current: result.current, drop_fraction: result.dropFraction };
  const values: RegressionStateValues = {
    triggered: alreadyTriggered || result.decision === 'triggered',
    last_decision: decision,
    ...measured,
    window_count: result.windowCount,
    baseline_count: result.baselineCount,
    last_checked_at: at,
    triggered_at: fires ? at : (prior?.triggered_at ?? null),
  };
  const evaluated = {
    policy: policyId(policy),
    decision,
    baseline: measured.baseline,
    current: measured.current,
    dropFraction: measured.drop_fraction,
  };
  const firing: TripwireFiring | undefined =
    fires && result.decision === 'triggered'
      ? {
          policy: policyId(policy),
          domain: policy.domain,
          metric: policy.metric,
          engine: policy.engine,
          action: policy.action,
          baseline: result.baseline,
          current: result.current,
          dropFraction: result.dropFraction,
        }
      : undefined;
  return { values, evaluated, firing };
}
