// Benchmark bundle: Warden's workflows plus a bare baseline.
import { proxyActivities } from '@temporalio/workflow';
import type { DealExecutor, ExecuteDealInput, ExecuteDealResult } from '../src/domain/deals/types';

export { controlPlane, dealExecution } from '../workflows';

const { executeDeal } = proxyActivities<DealExecutor>({ startToCloseTimeout: '1 minute' });

/** The same executor call with no governance around it: the throughput baseline. */
export async function bareDeal(input: ExecuteDealInput): Promise<ExecuteDealResult> {
  return executeDeal(input);
}
