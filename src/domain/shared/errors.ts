import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { describeIssues } from './validation';

/** Failure types: callers and tests match on these, never on messages. */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  /** A webhook refused a notification in a way retrying will not fix (a 4xx other than 408/429, a redirect, or no longer configured). */
  WebhookRejected: 'WebhookRejected',
} as const;

/** Parses a workflow or activity input; bad input fails at once, naming the field, and is never retried. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid ${what}: ${describeIssues(parsed.error)}`, ErrorType.InvalidInput);
  }
  return parsed.data;
}
