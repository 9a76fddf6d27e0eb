// What every reliability scenario answers, so the runner can print one table for all of them.

export interface ScenarioResult {
  name: string; // e.g. 'load+faults', 'kill-switch', 'approvals', 'endurance'
  passed: boolean;
  /** Figures for the printed table and the JSON summary: plain numbers or short strings. */
  figures: Record<string, number | string>;
  /** One line per violated invariant (empty when passed). */
  failures: string[];
}
