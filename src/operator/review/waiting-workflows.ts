import type { Client } from '@temporalio/client';
import { commandStatusQuery, dealProgressQuery, promotionStatusQuery } from '../../../workflows/messages';
import {
  COMMAND_EXECUTION_WORKFLOW_TYPE,
  DEAL_EXECUTION_WORKFLOW_TYPE,
  STRATEGY_PROMOTION_WORKFLOW_TYPE,
} from '../../../workflows/names';

/** An open workflow waiting on a person, as the Monday review lists it. */
export interface WaitingWorkflow {
  kind: 'command' | 'strategy_promotion' | 'order';
  workflowId: string;
  startedAt: string;
  detail: string;
}

/** Enough for a weekly review; a backlog past this is itself the finding. */
const MAX_OPEN_WORKFLOWS = 200;

/**
 * What waits on a person lives in running workflows, not in tables: commands
 * awaiting approval, strategy promotions, orders awaiting approveOrder. Each
 * open one is asked for its stage, briefly: a command or promotion no worker
 * answers for is still listed, marked so (a deal's wait is then unknown, and
 * it is left out).
 */
export async function listWaitingWorkflows(
  client: Client,
  taskQueue: string,
  { queryTimeoutMs = 3000 } = {},
): Promise<WaitingWorkflow[]> {
  const query = `ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue.replaceAll("'", "''")}' AND WorkflowType IN ('${COMMAND_EXECUTION_WORKFLOW_TYPE}', '${STRATEGY_PROMOTION_WORKFLOW_TYPE}', '${DEAL_EXECUTION_WORKFLOW_TYPE}')`;
  const waiting: WaitingWorkflow[] = [];
  let seen = 0;
  for await (const info of client.workflow.list({ query })) {
    if (++seen > MAX_OPEN_WORKFLOWS) break;
    const handle = client.workflow.getHandle(info.workflowId, info.runId);
    const ask = <T>(fn: () => Promise<T>) =>
      client.withDeadline(Date.now() + queryTimeoutMs, fn).catch(() => undefined);
    const base = { workflowId: info.workflowId, startedAt: info.startTime.toISOString() };
    if (info.type === COMMAND_EXECUTION_WORKFLOW_TYPE) {
      const view = await ask(() => handle.query(commandStatusQuery));
      if (!view) waiting.push({ ...base, kind: 'command', detail: 'running; no worker answered for its stage' });
      else if (view.stage === 'awaiting_approval')
        waiting.push({ ...base, kind: 'command', detail: `${view.commandType} ${view.commandId} awaits approval` });
    } else if (info.type === STRATEGY_PROMOTION_WORKFLOW_TYPE) {
      const view = await ask(() => handle.query(promotionStatusQuery));
      if (!view)
        waiting.push({ ...base, kind: 'strategy_promotion', detail: 'running; no worker answered for its stage' });
      else if (view.status === 'pending')
        waiting.push({
          ...base,
          kind: 'strategy_promotion',
          detail: `${view.strategyId} ${view.from}→${view.to} awaits approval`,
        });
    } else {
      const view = await ask(() => handle.query(dealProgressQuery));
      if (view?.stage === 'awaiting_order_approval')
        waiting.push({ ...base, kind: 'order', detail: `deal ${view.dealId} awaits approveOrder` });
    }
  }
  return waiting;
}
