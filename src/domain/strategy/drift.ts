export type DriftAction = 'OK' | 'REDUCE_SIZE' | 'PAUSE';

export interface DriftThresholds {
  reduceSize: number;
  pause: number;
}

/** Seed 001: beyond 30 % → REDUCE_SIZE, beyond 50 % → PAUSE. */
export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = { reduceSize: 0.3, pause: 0.5 };

export interface DriftEvaluation {
  deviation: number;
  action: DriftAction;
}

/**
 * Live metric against its backtest baseline, as a fraction of the baseline.
 * "Beyond" is strict: exactly 30 % is still OK, exactly 50 % is REDUCE_SIZE.
 */
export function evaluateDrift(
  baseline: number,
  live: number,
  thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS,
): DriftEvaluation {
  if (baseline === 0)
    return { deviation: live === 0 ? 0 : Number.POSITIVE_INFINITY, action: live === 0 ? 'OK' : 'PAUSE' };
  const deviation = Math.round((Math.abs(live - baseline) / Math.abs(baseline)) * 1e9) / 1e9;
  const action: DriftAction =
    deviation > thresholds.pause ? 'PAUSE' : deviation > thresholds.reduceSize ? 'REDUCE_SIZE' : 'OK';
  return { deviation, action };
}
