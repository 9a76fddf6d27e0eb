// What a run continued as new carries to the next, split from the start payload it came with.
import { workflowInfo } from '@temporalio/workflow';

/**
 * Whether this run is one its workflow continued as new itself. A cron run and a retry are started
 * "continued" too, with the input the producer gave the first run: what they carry is the producer's.
 */
export function continuedByItself(): boolean {
  const { continuedFromExecutionRunId, cronSchedule, attempt } = workflowInfo();
  return continuedFromExecutionRunId !== undefined && cronSchedule === undefined && attempt === 1;
}

/**
 * What a run carries counts only in a run its workflow continued as new (no client can start one):
 * from any other start, `carried` stays in the payload, where the start's own schema refuses (or ignores) it.
 */
export function splitCarried<C>(raw: unknown): { carried?: C; start: unknown } {
  if (!continuedByItself() || typeof raw !== 'object' || raw === null || !('carried' in raw)) return { start: raw };
  const { carried, ...start } = raw as { carried?: C };
  return carried === undefined ? { start } : { carried, start };
}
