import type { Client } from '@temporalio/client';
import {
  COMMAND_EXECUTION_WORKFLOW_TYPE,
  CONTROL_PLANE_WORKFLOW_TYPE,
  DEAL_EXECUTION_WORKFLOW_TYPE,
  EXPANSION_PROPOSAL_WORKFLOW_TYPE,
  POLICY_CHANGE_WORKFLOW_TYPE,
  STRATEGY_PROMOTION_WORKFLOW_TYPE,
  WEEKLY_GOVERNANCE_WORKFLOW_TYPE,
} from '../../../workflows/names';
import { queryValue, wardenAwaitingApprovalKey } from '../../../workflows/search-attributes';
import { searchAttributesOf } from './visibility';

const KINDS = {
  [COMMAND_EXECUTION_WORKFLOW_TYPE]: 'command',
  [STRATEGY_PROMOTION_WORKFLOW_TYPE]: 'strategy_promotion',
  [DEAL_EXECUTION_WORKFLOW_TYPE]: 'order',
  [POLICY_CHANGE_WORKFLOW_TYPE]: 'change_request',
  [EXPANSION_PROPOSAL_WORKFLOW_TYPE]: 'expansion_proposal',
  [CONTROL_PLANE_WORKFLOW_TYPE]: 'kill_switch_release',
  [WEEKLY_GOVERNANCE_WORKFLOW_TYPE]: 'week',
} as const;

/** An open workflow waiting on a person, as the Monday review and the approvals page list it. */
export interface WaitingWorkflow {
  kind: (typeof KINDS)[keyof typeof KINDS] | 'other';
  workflowId: string;
  startedAt: string;
  /** The roles whose approval it waits for (its WardenAwaitingApproval). */
  roles: string[];
  detail: string;
}

/** Enough for a weekly review; a backlog past this is itself the finding. */
const MAX_OPEN_WORKFLOWS = 200;

/**
 * Every open workflow waiting on a person, in one visibility query: each
 * says so in its WardenAwaitingApproval search attribute (the roles it waits
 * for), so no worker is asked anything. `roles` narrows it to what any of
 * those roles may approve. Workflows started before the attributes existed
 * never set them and are not listed.
 */
export async function listWaitingWorkflows(
  client: Client,
  taskQueue: string,
  { roles }: { roles?: readonly string[] } = {},
): Promise<WaitingWorkflow[]> {
  const awaiting =
    roles === undefined
      ? `${wardenAwaitingApprovalKey.name} IS NOT NULL`
      : `${wardenAwaitingApprovalKey.name} IN (${roles.map(queryValue).join(', ') || "''"})`;
  const query = `ExecutionStatus = 'Running' AND TaskQueue = ${queryValue(taskQueue)} AND ${awaiting}`;
  const waiting: WaitingWorkflow[] = [];
  for await (const info of client.workflow.list({ query })) {
    if (waiting.length >= MAX_OPEN_WORKFLOWS) break;
    const shown = searchAttributesOf(info);
    const about = [shown.engine, shown.symbol, shown.strategy].filter((part) => part !== undefined).join(' ');
    waiting.push({
      kind: KINDS[info.type as keyof typeof KINDS] ?? 'other',
      workflowId: info.workflowId,
      startedAt: info.startTime.toISOString(),
      roles: shown.awaitingApproval,
      detail: `${about ? `${about}: ` : ''}${shown.stage ?? 'waiting'}, awaits ${shown.awaitingApproval.join(' or ')}`,
    });
  }
  return waiting;
}
