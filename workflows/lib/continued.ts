// What a run continued as new carries to the next, split from the start payload it came with.
import { workflowInfo } from '@temporalio/workflow';

/**
 * What a run carries counts only in a run continued as new (no client can start one): from a raw
 * start, `carried` stays in the payload, where the start's own schema refuses (or ignores) it.
 */
export function splitCarried<C>(raw: unknown): { carried?: C; start: unknown } {
  if (
    workflowInfo().continuedFromExecutionRunId === undefined ||
    typeof raw !== 'object' ||
    raw === null ||
    !('carried' in raw)
  )
    return { start: raw };
  const { carried, ...start } = raw as { carried?: C };
  return carried === undefined ? { start } : { carried, start };
}
