import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { AlreadyRunningError, type WardenClient } from '../../../client';
import type { Config } from '../../../config/index';
import type { Database } from '../../../db/database';
import type { Identity, Role } from '../../../domain/identity/roles';
import { durationMs } from '../../../domain/shared/durations';
import { issueApprovalToken } from '../../../security/approval-tokens';
import { conflict, forbidden, notFound, type Reply } from '../http';

/**
 * What every area's routes share: the dependencies, the success answer, the
 * paging query, and the three repeated patterns — a role the key must hold
 * (403), a call to a workflow whose refusals become 404/409, and the API's
 * own signature on the votes it passes on.
 */
export interface ApiDeps {
  db: Kysely<Database>;
  warden: WardenClient;
  temporal: Client;
  config: Config;
  registry: Registry;
}

export const ok = (body: unknown, status = 200): Reply => ({ status, body });

export const Paging = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** The system-health options the status and the review read with. */
export function healthOptions(config: Config) {
  return { capitalBands: config.capitalBands, canaryThreshold: config.watchdogs.canaryThreshold };
}

/** Who an engage or a restriction comes from, as the control plane records it. */
export function sourceOf(identity: Identity): 'automation' | 'operator' {
  return identity.roles.includes('automation') ? 'automation' : 'operator';
}

/** 403 unless `role` is among the roles the key holds (or the subset `held` of them that counts). */
export function requireRole(identity: Identity, role: Role, held: readonly Role[] = identity.roles): Role {
  if (!held.includes(role)) throw forbidden(`role: ${identity.name} does not hold ${role}`);
  return role;
}

/** Temporal's answers in HTTP terms: a missing workflow is 404, a refused update 409. */
export function workflowError(error: unknown, what: string): unknown {
  if (error instanceof WorkflowNotFoundError) return notFound(`${what} not found`);
  if (error instanceof WorkflowUpdateFailedError) return conflict(error.cause?.message ?? error.message);
  if (error instanceof AlreadyRunningError) return conflict(error.message);
  return error;
}

/** Runs a call to the workflow named by `what`, answering its refusals as {@link workflowError} does. */
export async function viaWorkflow<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw workflowError(error, what);
  }
}

export function mintToken(deps: ApiDeps, identity: Identity) {
  const key = deps.config.approvals.signingKey;
  if (key === undefined) return undefined;
  return issueApprovalToken({
    subject: identity.name,
    roles: identity.roles,
    environment: deps.config.environment,
    ttlMs: durationMs(deps.config.approvals.tokenTtl),
    key,
  });
}

/**
 * The API has authenticated the caller, so it signs the vote itself: approvals
 * that come through the API pass in signed mode like any other signed one.
 */
export function signedFor(deps: ApiDeps, identity: Identity): { token?: string } {
  const issued = mintToken(deps, identity);
  return issued ? { token: issued.token } : {};
}
