/**
 * A command's recorded outcome. `denied` (a gate stopped it) and `dry_run`
 * (nothing executed) are not executions: they never count as failures for the
 * circuit breakers or the success and error rates.
 */
export type CommandStatus = 'succeeded' | 'failed' | 'rejected' | 'rolled_back' | 'denied' | 'dry_run';
export type IncidentSeverity = 'low' | 'medium' | 'high' | 'critical';

export interface CommandOutcome {
  commandType: string;
  status: CommandStatus;
  /** Human decision on a command that needed one. */
  approval: 'approved' | 'rejected' | 'timed_out' | 'refused_paused' | null;
  at: Date;
}

export interface AutonomyMetrics {
  total: number;
  counts: Record<CommandStatus, number>;
  /** Of executed commands (succeeded, failed, rolled back). Null when none ran. */
  successRate: number | null;
  errorRate: number | null;
  rollbackRate: number | null;
  /** Of human decisions (approved or rejected, timeouts count as not approved). Null when none. */
  approvalRate: number | null;
}

/** Seed 002's metrics collector over one window of outcomes. */
export function computeMetrics(outcomes: CommandOutcome[]): AutonomyMetrics {
  const counts: Record<CommandStatus, number> = {
    succeeded: 0,
    failed: 0,
    rejected: 0,
    rolled_back: 0,
    denied: 0,
    dry_run: 0,
  };
  for (const o of outcomes) counts[o.status] += 1;
  const executed = counts.succeeded + counts.failed + counts.rolled_back;
  const decided = outcomes.filter(
    (o) => o.approval === 'approved' || o.approval === 'rejected' || o.approval === 'timed_out',
  );
  const rate = (n: number, of: number) => (of === 0 ? null : n / of);
  return {
    total: outcomes.length,
    counts,
    successRate: rate(counts.succeeded, executed),
    errorRate: rate(counts.failed, executed),
    rollbackRate: rate(counts.rolled_back, executed),
    approvalRate: rate(decided.filter((o) => o.approval === 'approved').length, decided.length),
  };
}
