import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../src/domain/shared/errors';
import { storableText } from '../src/domain/shared/validation';

// Which database failures a control-plane write waits out, and which mean the
// change itself can never be stored (so it must not block the queue behind it).

/** An outage is retried without end; `content` never succeeds; `unknown` gets bounded attempts. */
export type DatabaseFailure = 'outage' | 'content' | 'unknown';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);
/** Serialisation failure, deadlock, lock not available, object in use: transient. */
const TRANSIENT_STATES = new Set(['40001', '40P01', '55P03', '55006']);

/**
 * Classifies a failure by SQLSTATE (PostgreSQL and PGlite) or Node's network
 * codes: connection exceptions (08), insufficient resources (53), operator
 * intervention such as admin shutdown (57), system errors (58), transient
 * locking faults and network errors are outages; data exceptions (22, e.g.
 * a NUL byte), integrity violations (23), cardinality (21), unsupported
 * features (0A) and syntax or access rules (42) are the content's fault.
 */
export function classifyDatabaseFailure(error: unknown): DatabaseFailure {
  if (error instanceof AggregateError && error.errors.length > 0) return classifyDatabaseFailure(error.errors[0]);
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return 'outage';
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (/^(08|53|57|58)/.test(code) || TRANSIENT_STATES.has(code)) return 'outage';
      if (/^(21|22|23|42|0A)/.test(code)) return 'content';
      return 'unknown';
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/connect|connection|terminat|timeout|socket|pool (is|has) (ended|closed)/i.test(message)) return 'outage';
  return 'unknown';
}

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (tests): one attempt
  }
}

/**
 * Runs a control-plane write. An outage rethrows (the workflow retries without
 * end); a content fault, or any other fault on attempt `maxAttempts`, becomes a
 * non-retryable ControlPlaneChangeUnstorable the workflow audits and drops.
 */
export async function storing<T>(what: string, maxAttempts: number, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof ApplicationFailure) throw error;
    const verdict = classifyDatabaseFailure(error);
    if (verdict === 'outage') throw error;
    const tries = attempt();
    if (verdict === 'unknown' && tries < maxAttempts) throw error;
    const code = (error as { code?: unknown })?.code;
    const detail = storableText(error instanceof Error ? error.message : String(error), 500);
    throw ApplicationFailure.nonRetryable(
      `${what}: ${verdict === 'content' ? 'the database refuses its content' : `still failing after ${tries} attempts`}${typeof code === 'string' ? ` (${code})` : ''}: ${detail}`,
      ErrorType.ControlPlaneChangeUnstorable,
    );
  }
}
