import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { describeIssues } from './validation';

/**
 * Failure types: callers, retry policies and tests match on these, never on
 * messages. The values are recorded in workflow histories and sent by
 * producers' executors, so they never change; add, never rename.
 */
export const ErrorType = {
  /** A workflow or activity input failed its schema; the message names the field. */
  InvalidInput: 'InvalidInput',
  /** A webhook refused a notification in a way retrying will not fix (a 4xx other than 408/429, a redirect, or no longer configured). */
  WebhookRejected: 'WebhookRejected',
  /** A webhook could not be reached or answered 408/429/5xx: retried with backoff. */
  WebhookUnavailable: 'WebhookUnavailable',
  /** An approval or rejection sent by update was refused (rules, allowlist or the worker's approver check). */
  ApprovalRefused: 'ApprovalRefused',
  /** A go-live playbook step or abandonment sent by update was refused. */
  PlaybookMessageRejected: 'PlaybookMessageRejected',
  /** An operator session's end was refused (bad payload, or already ended). */
  SessionMessageRejected: 'SessionMessageRejected',
  /** Thrown by a producer's command executor for a permanent refusal: not retried. */
  CommandRejected: 'CommandRejected',
  /** Thrown by a producer's deal executor for a permanent refusal: not retried; the deal compensates and fails. */
  ExecutionRejected: 'ExecutionRejected',
  /** A `reconcileDeal` the deal cannot take: it is not waiting for reconciliation, or the claim contradicts it. */
  ReconciliationRefused: 'ReconciliationRefused',
  /** An `admission` update naming terms other than those the deal runs with (its id is taken). */
  DealTermsMismatch: 'DealTermsMismatch',
  /** An `admission` update on a deal run that handed over to a new run: asked again, the new run answers. */
  DealHandedOver: 'DealHandedOver',
  /** Settle or release of a reservation key that was never reserved. */
  ReservationNotFound: 'ReservationNotFound',
  /** Settle or release of a reservation no longer in the state the step needs. */
  ReservationStateError: 'ReservationStateError',
  /** Clearing an engine restriction that is not active. */
  RestrictionNotFound: 'RestrictionNotFound',
  /** A control-plane change (or its audit) the database refuses for its content, or after bounded retries: dropped, audited, never retried. */
  ControlPlaneChangeUnstorable: 'ControlPlaneChangeUnstorable',
  /** Changing a regression policy that does not exist. */
  TripwireNotFound: 'TripwireNotFound',
  /** Attesting a readiness checklist item that cannot be attested by hand. */
  UnknownChecklistItem: 'UnknownChecklistItem',
  /** A write that would change a strategy's maturity level outside promotion (approved) or demotion. */
  StrategyLevelChangeRefused: 'StrategyLevelChangeRefused',
  /** A proposal that cannot be recorded: another is open, or its terms do not follow the ladder. */
  ProposalRefused: 'ProposalRefused',
  /** A change request's change was read against a state that has moved on: nothing applied, the request is stale. */
  PolicyChangeStale: 'PolicyChangeStale',
  /** A change request's change that cannot apply for its content (e.g. an API key's roles, a revoked key). */
  PolicyChangeRefused: 'PolicyChangeRefused',
  /** A change request's edit or cancel sent by update was refused (not the requester, or no longer pending). */
  ChangeRequestRefused: 'ChangeRequestRefused',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Parses a workflow or activity input; bad input fails at once, naming the field, and is never retried. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid ${what}: ${describeIssues(parsed.error)}`, ErrorType.InvalidInput);
  }
  return parsed.data;
}
