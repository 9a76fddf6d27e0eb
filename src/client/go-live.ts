import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { goLivePlaybook } from '../../workflows/go-live-playbook';
import {
  abandonPlaybookUpdate,
  completePlaybookStepUpdate,
  endSessionUpdate,
  playbookProgressQuery,
  sessionQuery,
} from '../../workflows/messages';
import {
  GO_LIVE_PLAYBOOK_WORKFLOW_TYPE,
  OPERATOR_SESSION_WORKFLOW_TYPE,
  operatorSessionWorkflowId,
} from '../../workflows/names';
import type { operatorSession as operatorSessionWorkflow } from '../../workflows/operator-session';
import {
  type AbandonPayload,
  AbandonPayloadSchema,
  type CompleteStepPayload,
  CompleteStepPayloadSchema,
  type PlaybookInput,
  PlaybookInputSchema,
  type PlaybookProgress,
  type StepResult,
} from '../domain/go-live/playbook';
import {
  EndSessionPayloadSchema,
  OperatorSchema,
  OperatorSessionInputSchema,
  type OperatorSessionView,
} from '../domain/go-live/sessions';
import { validateRequest } from '../domain/shared/validation';
import { AlreadyRunningError } from './errors';
import type { Target } from './target';

// Go-live playbook and operator sessions (seed 004 PACK H/I).

export async function startGoLivePlaybook(
  target: Target,
  input: PlaybookInput,
  playbookId: string,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof goLivePlaybook>> {
  const parsed = validateRequest(PlaybookInputSchema, input, 'goLivePlaybook input');
  try {
    return await target.client.workflow.start<typeof goLivePlaybook>(GO_LIVE_PLAYBOOK_WORKFLOW_TYPE, {
      workflowId: playbookId,
      taskQueue: target.taskQueue,
      args: [parsed],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new AlreadyRunningError(`go-live playbook ${playbookId} is already running`);
    }
    throw error;
  }
}

export async function completePlaybookStep(
  target: Target,
  payload: CompleteStepPayload,
  playbookId: string,
): Promise<StepResult> {
  const parsed = validateRequest(CompleteStepPayloadSchema, payload, 'completePlaybookStep');
  return target.client.workflow.getHandle(playbookId).executeUpdate(completePlaybookStepUpdate, { args: [parsed] });
}

export async function abandonPlaybook(
  target: Target,
  payload: AbandonPayload,
  playbookId: string,
): Promise<PlaybookProgress> {
  const parsed = validateRequest(AbandonPayloadSchema, payload, 'abandonPlaybook');
  return target.client.workflow.getHandle(playbookId).executeUpdate(abandonPlaybookUpdate, { args: [parsed] });
}

export function playbookProgress(target: Target, playbookId: string): Promise<PlaybookProgress> {
  return target.client.workflow.getHandle(playbookId).query(playbookProgressQuery);
}

export async function startOperatorSession(
  target: Target,
  input: { operator: string; notes?: string },
  timeoutMs: number,
): Promise<OperatorSessionView> {
  const request = { sessionId: randomUUID(), ...input };
  const parsed = validateRequest(OperatorSessionInputSchema, request, 'operatorSession input');
  const workflowId = operatorSessionWorkflowId(parsed.operator);
  try {
    await target.client.workflow.start<typeof operatorSessionWorkflow>(OPERATOR_SESSION_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: target.taskQueue,
      args: [parsed],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new AlreadyRunningError(`${parsed.operator} already has an active session (workflow ${workflowId})`);
    }
    throw error;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operatorSession(target, parsed.operator);
    } catch (error) {
      // Still taking its start snapshot: ask again until the deadline.
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function endOperatorSession(
  target: Target,
  input: { operator: string; actor: string; notes?: string },
): Promise<OperatorSessionView> {
  const { operator, ...rest } = input;
  const payload = validateRequest(EndSessionPayloadSchema, rest, 'endSession');
  return target.client.workflow
    .getHandle(operatorSessionWorkflowId(validateRequest(OperatorSchema, operator, 'operator')))
    .executeUpdate(endSessionUpdate, { args: [payload] });
}

export async function operatorSession(target: Target, operator: string): Promise<OperatorSessionView> {
  return target.client.workflow
    .getHandle(operatorSessionWorkflowId(validateRequest(OperatorSchema, operator, 'operator')))
    .query(sessionQuery);
}
