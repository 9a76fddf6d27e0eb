import type { KillSwitchMode } from '../control-plane/types';
import type { CheckResult } from './canary';
import type { TripwireReport } from './tripwire';

// The watchdogs' activity contract (regression tripwire, infrastructure
// canary), implemented by activities/watchdogs.ts.

/** An engine restriction a tripwire (or an operator) placed: THROTTLE or PAUSE, until cleared. */
export interface Restriction {
  id: string;
  engine: string;
  kind: 'throttle' | 'pause';
  source: string;
  reason: string;
  createdAt: string;
  clearedAt: string | null;
  clearedBy: string | null;
  clearReason: string | null;
}

export interface WatchdogActivities {
  /** Evaluates every enabled regression policy; the workflow acts on what fired. */
  evaluateRegressionPolicies(input: { at: string }): Promise<TripwireReport>;
  /**
   * Asks the control plane (the one writer of engine restrictions) to throttle
   * or pause. Histories from before it did carry the Restriction it wrote.
   */
  applyEngineRestriction(input: {
    engine: string;
    kind: 'throttle' | 'pause';
    source: string;
    reason: string;
  }): Promise<Restriction | void>;
  /** A watchdog's kill switch: signal-with-start, so it lands even if the control plane was not running. */
  engageKillSwitch(input: { source: 'tripwire' | 'canary'; reason: string; mode?: KillSwitchMode }): Promise<void>;
  // Checks report a failure as a result; only a timeout surfaces as an activity failure.
  checkPostgres(): Promise<CheckResult>;
  checkTemporal(): Promise<CheckResult>;
  checkHttp(probe: { name: string; url: string; timeoutMs: number }): Promise<CheckResult>;
  listRegisteredChecks(): Promise<string[]>;
  runRegisteredCheck(input: { name: string }): Promise<CheckResult>;
  recordCanaryRun(input: {
    at: string;
    results: CheckResult[];
    consecutiveFailures: Record<string, number>;
    tripped: string[];
    recovered: string[];
  }): Promise<void>;
}
