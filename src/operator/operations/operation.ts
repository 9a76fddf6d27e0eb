import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { z } from 'zod';
import { AlreadyRunningError, DealAlreadyStartedError, InvalidRequestError } from '../../client';
import { allows, type Identity, type Permission } from '../../domain/identity/roles';
import { ErrorType } from '../../domain/shared/errors';
import { ApiError, badRequest, conflict, forbidden, notFound, parsePart } from '../api/http';
import type { ApiDeps } from '../api/routes/shared';

/**
 * What an operation runs with: the API's dependencies. The API server, the
 * local ops endpoint of `npm start` and the CLI in-process each supply them.
 */
export type OperationDeps = ApiDeps;

/**
 * One thing a caller may do: its input (validated before it runs, errors
 * naming the field), the one permission of the RBAC table it needs, and what
 * it does as the calling identity, whose name is the actor of every write.
 */
export interface Operation<S extends z.ZodType = z.ZodType, O = unknown> {
  permission: Permission;
  summary: string;
  input: S;
  run(deps: OperationDeps, identity: Identity, input: z.output<S>): Promise<O>;
}

/** Keeps each operation's input and output types while the registry holds many. */
export const operation = <S extends z.ZodType, O>(op: Operation<S, O>): Operation<S, O> => op;

/** Who the CLI is without a key on the embedded database of `npm start`: the one person at this machine. */
export const LOCAL_OWNER: Identity = { name: 'local-owner', roles: ['owner'], keyId: 'local' };

/** What a refusal or a fault below an operation means to its caller, in the API's terms (status, code, message). */
export function operationError(error: unknown): unknown {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidRequestError) return badRequest(error.message);
  if (error instanceof DealAlreadyStartedError) return new ApiError(409, 'already_started', error.message);
  if (error instanceof AlreadyRunningError) return new ApiError(409, 'already_running', error.message);
  if (error instanceof WorkflowNotFoundError) return notFound(`workflow ${error.workflowId ?? ''} not found`.trim());
  if (error instanceof WorkflowUpdateFailedError) return conflict(error.cause?.message ?? error.message);
  if (
    error instanceof Error &&
    (error.name === ErrorType.ProposalRefused || error.name === ErrorType.StrategyLevelChangeRefused)
  )
    return conflict(error.message);
  if (error instanceof Error && error.name === ErrorType.TripwireNotFound) return notFound(error.message);
  return error;
}

/** Runs an operation with its input already validated; the answer is plain JSON, whichever transport carries it. */
export async function runOperation<S extends z.ZodType, O>(
  op: Operation<S, O>,
  deps: OperationDeps,
  identity: Identity,
  input: z.output<S>,
): Promise<O> {
  try {
    return JSON.parse(JSON.stringify((await op.run(deps, identity, input)) ?? null)) as O;
  } catch (error) {
    throw operationError(error);
  }
}

/**
 * Checks, validates and runs an operation as the API's handler does, for the
 * callers that come without a key (the local owner): RBAC, then the input.
 */
export async function invokeOperation(
  op: Operation,
  deps: OperationDeps,
  identity: Identity,
  rawInput: unknown,
): Promise<unknown> {
  if (!allows(identity.roles, op.permission))
    throw forbidden(`${op.permission} is not granted to ${identity.roles.join(', ') || 'no role'}`);
  return runOperation(op, deps, identity, parsePart(op.input, rawInput, 'body'));
}

/**
 * Runs a scheduled workflow once, now, under a workflow id of its own, and answers with its result. The
 * id ends in a random part: two calls in one millisecond (the fuzz's, or two operators') were one id, and
 * the second a 500.
 */
export function runOnce<R>(deps: OperationDeps, workflowType: string, workflowIdPrefix: string): Promise<R> {
  return deps.temporal.workflow.execute<() => Promise<R>>(workflowType, {
    taskQueue: deps.config.temporal.taskQueue,
    workflowId: `${workflowIdPrefix}-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`,
  });
}
