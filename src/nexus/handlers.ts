// Warden's side of the `warden` Nexus service, served by the `warden` worker
// (workers/wire.ts). Each operation starts the same governed workflow the typed
// client starts, under the same id and reuse policy, on the worker's own task
// queue: a deal reached through Nexus passes every gate a direct one does, and
// the caller chooses nothing (id, queue, options) the typed client does not.
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import {
  getClient,
  startWorkflow,
  type WorkflowHandle,
  WorkflowRunOperationHandler,
  type WorkflowRunOperationStartHandler,
} from '@temporalio/nexus';
import * as nexus from 'nexus-rpc';
import type { z } from 'zod';
import type { commandExecution } from '../../workflows/command-execution';
import type { dealExecution } from '../../workflows/deal-execution';
import {
  COMMAND_EXECUTION_WORKFLOW_TYPE,
  commandWorkflowId,
  DEAL_EXECUTION_WORKFLOW_TYPE,
  dealWorkflowId,
} from '../../workflows/names';
import {
  type CommandExecutionInput,
  CommandExecutionInputSchema,
  type CommandResult,
} from '../domain/autonomy/commands';
import { type DealInput, DealInputSchema, type DealResult, dealSummary } from '../domain/deals/types';
import { wardenNexusService } from '../domain/nexus/service';
import { InvalidRequestError, validateRequest } from '../domain/shared/validation';
import { dealStartAttributes } from '../../workflows/search-attributes';

/**
 * The caller's input, checked with the schema the typed client uses. Bad input is
 * a BAD_REQUEST handler error naming the field: not retried, and nothing starts.
 */
function parseOrRefuse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  try {
    return validateRequest(schema, input, what);
  } catch (error) {
    if (error instanceof InvalidRequestError) throw new nexus.HandlerError('BAD_REQUEST', error.message);
    throw error;
  }
}

/**
 * A workflow-run operation that also answers for a run that already closed.
 * The start joins a running workflow of the same id (its completion callback is
 * attached, so two producers naming one deal id get one deal), and Temporal
 * refuses to start a closed one again (REJECT_DUPLICATE, as the typed client):
 * then the closed run's result is the answer, as the typed client's
 * `executeDeal` gives it. Cancelling the operation cancels the workflow, which
 * compensates or waits for reconciliation as any cancelled deal does.
 */
class GovernedRunOperation<I, O> implements nexus.OperationHandler<I, O> {
  private readonly run: WorkflowRunOperationHandler<I, O>;

  constructor(start: WorkflowRunOperationStartHandler<I, O>) {
    this.run = new WorkflowRunOperationHandler(start);
  }

  async start(ctx: nexus.StartOperationContext, input: I): Promise<nexus.HandlerStartOperationResult<O>> {
    try {
      return await this.run.start(ctx, input);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      return nexus.HandlerStartOperationResult.sync(await closedRunResult<O>(error.workflowId));
    }
  }

  cancel(ctx: nexus.CancelOperationContext, token: string): Promise<void> {
    return this.run.cancel(ctx, token);
  }
}

async function closedRunResult<O>(workflowId: string): Promise<O> {
  try {
    return (await getClient().workflow.getHandle(workflowId).result()) as O;
  } catch (error) {
    // A run that failed stays failed: the operation fails with it instead of being retried.
    if (error instanceof WorkflowFailedError) throw new nexus.OperationError('failed', error.message, { cause: error });
    throw error;
  }
}

const START_OPTIONS = { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'USE_EXISTING' } as const;

export const wardenNexusHandler = nexus.serviceHandler(wardenNexusService, {
  executeDeal: new GovernedRunOperation<DealInput, DealResult>(
    async (ctx, input): Promise<WorkflowHandle<DealResult>> => {
      const deal = parseOrRefuse(DealInputSchema, input, 'deal');
      return startWorkflow<typeof dealExecution>(ctx, DEAL_EXECUTION_WORKFLOW_TYPE, {
        workflowId: dealWorkflowId(deal.dealId),
        args: [deal],
        ...START_OPTIONS,
        staticSummary: dealSummary(deal),
        typedSearchAttributes: dealStartAttributes(deal),
      });
    },
  ),
  executeCommand: new GovernedRunOperation<CommandExecutionInput, CommandResult>(
    async (ctx, input): Promise<WorkflowHandle<CommandResult>> => {
      const command = parseOrRefuse(CommandExecutionInputSchema, input, 'command');
      return startWorkflow<typeof commandExecution>(ctx, COMMAND_EXECUTION_WORKFLOW_TYPE, {
        workflowId: commandWorkflowId(command.commandId),
        args: [command],
        ...START_OPTIONS,
        staticSummary: `Command ${command.commandId} (${command.commandType}), by ${command.requestedBy}`,
      });
    },
  ),
});
