import {
  ApplicationFailure,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandleWithFirstExecutionRunId,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { dealExecution } from '../../workflows/deal-execution';
import { dealAdmissionUpdate, dealProgressQuery, reconcileDealUpdate } from '../../workflows/messages';
import { DEAL_EXECUTION_WORKFLOW_TYPE, dealWorkflowId } from '../../workflows/names';
import {
  type DealAdmissionAnswer,
  dealTermsOf,
  type DealInput,
  DealInputSchema,
  type DealProgress,
  type DealResult,
  dealSummary,
  type DealTerms,
  type ParsedDealInput,
  type ReconcileDealInput,
  ReconcileDealInputSchema,
} from '../domain/deals/types';
import { ErrorType } from '../domain/shared/errors';
import { validateRequest } from '../domain/shared/validation';
import { DealAlreadyStartedError } from './errors';
import type { Target } from './target';
import { dealStartAttributes } from '../../workflows/search-attributes';

export async function startDeal(
  target: Target,
  input: DealInput,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof dealExecution>> {
  const parsed = validateRequest(DealInputSchema, input, 'deal');
  try {
    return await target.client.workflow.start<typeof dealExecution>(DEAL_EXECUTION_WORKFLOW_TYPE, {
      workflowId: dealWorkflowId(parsed.dealId),
      taskQueue: target.taskQueue,
      args: [parsed],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: dealSummary(parsed),
      typedSearchAttributes: dealStartAttributes(parsed),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new DealAlreadyStartedError(parsed.dealId);
    throw error;
  }
}

export async function executeDeal(target: Target, input: DealInput): Promise<DealResult> {
  try {
    return await (await startDeal(target, input)).result();
  } catch (error) {
    if (error instanceof DealAlreadyStartedError) return getDealResult(target, error.dealId);
    throw error;
  }
}

/**
 * Starts the deal (or attaches to the one running under its id, which must run with these terms) and
 * answers as soon as its admission is decided, in one round trip (update-with-start): `admitted` with the
 * permit and apply mode while execution goes on durably, or `ended` with the deal's result. A deal id
 * whose workflow has closed answers that deal's result; the deal still runs once.
 */
export async function admitDeal(target: Target, input: DealInput): Promise<DealAdmissionAnswer> {
  const parsed = validateRequest(DealInputSchema, input, 'deal');
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof dealExecution>(DEAL_EXECUTION_WORKFLOW_TYPE, {
    workflowId: dealWorkflowId(parsed.dealId),
    taskQueue: target.taskQueue,
    args: [parsed],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: dealSummary(parsed),
    typedSearchAttributes: dealStartAttributes(parsed),
  });
  try {
    return await target.client.workflow.executeUpdateWithStart(dealAdmissionUpdate, {
      args: [dealTermsOf(parsed)],
      startWorkflowOperation,
    });
  } catch (error) {
    if (handedOver(error)) return askAdmission(target, parsed);
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return { outcome: 'ended', dealId: parsed.dealId, result: await getDealResult(target, parsed.dealId) };
  }
}

/** The deal's run handed over to a new run while its order waited: the latest run answers (a few hand-overs at most). */
async function askAdmission(target: Target, parsed: ParsedDealInput, tries = 5): Promise<DealAdmissionAnswer> {
  const handle = target.client.workflow.getHandle<typeof dealExecution>(dealWorkflowId(parsed.dealId));
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate<DealAdmissionAnswer, [DealTerms]>(dealAdmissionUpdate.name, {
        args: [dealTermsOf(parsed)],
      });
    } catch (error) {
      if (!handedOver(error) || attempt >= tries) throw error;
    }
  }
}

const handedOver = (error: unknown): boolean =>
  error instanceof WorkflowUpdateFailedError &&
  error.cause instanceof ApplicationFailure &&
  error.cause.type === ErrorType.DealHandedOver;

export function getDealResult(target: Target, dealId: string): Promise<DealResult> {
  return target.client.workflow.getHandle<typeof dealExecution>(dealWorkflowId(dealId)).result();
}

export function dealProgress(target: Target, dealId: string): Promise<DealProgress> {
  return target.client.workflow.getHandle(dealWorkflowId(dealId)).query(dealProgressQuery);
}

/** An operator's word on a deal waiting for reconciliation; answers with the reconciled result. */
export function reconcileDeal(
  target: Target,
  dealId: string,
  input: ReconcileDealInput,
  workflowId: string = dealWorkflowId(dealId),
): Promise<DealResult> {
  const word = validateRequest(ReconcileDealInputSchema, input, 'reconcileDeal');
  return target.client.workflow
    .getHandle<typeof dealExecution>(workflowId)
    .executeUpdate(reconcileDealUpdate, { args: [word] });
}
