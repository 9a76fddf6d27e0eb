import type { z } from 'zod';
import { weekOperations } from './week';
import { autonomyOperations } from './autonomy';
import { changeRequestOperations } from './change-requests';
import { controlSetterOperations } from './control-setters';
import { controlPlaneOperations } from './control-plane';
import { dealOperations } from './deals';
import { goLiveOperations } from './go-live';
import { governedSetterOperations } from './governed-setters';
import { policyFileOperations } from './policy-file';
import type { Operation } from './operation';
import { recordOperations } from './records';
import { strategyOperations } from './strategies';
import { watchdogOperations } from './watchdogs';

export { invokeOperation, LOCAL_OWNER, type Operation, type OperationDeps, runOperation } from './operation';

/**
 * Every operation a caller may ask for, by name: what each `warden` command
 * does, whichever way it travels (`POST /operations/<name>` on the API, the
 * local ops endpoint of `npm start`, or in-process on the embedded database).
 */
export const OPERATIONS = {
  ...controlPlaneOperations,
  ...dealOperations,
  ...watchdogOperations,
  ...autonomyOperations,
  ...strategyOperations,
  ...goLiveOperations,
  ...recordOperations,
  ...policyFileOperations,
  ...changeRequestOperations,
  ...governedSetterOperations,
  ...controlSetterOperations,
  ...weekOperations,
} satisfies Record<string, Operation>;

export type Operations = typeof OPERATIONS;
export type OperationName = keyof Operations;
/** What a caller sends: the schema's input, before defaults and transforms. */
export type OperationInput<N extends OperationName> = z.input<Operations[N]['input']>;
/** What the caller gets back, as JSON. */
export type OperationOutput<N extends OperationName> = Awaited<ReturnType<Operations[N]['run']>>;

export function findOperation(name: string): Operation | undefined {
  return Object.hasOwn(OPERATIONS, name) ? (OPERATIONS[name as OperationName] as Operation) : undefined;
}
