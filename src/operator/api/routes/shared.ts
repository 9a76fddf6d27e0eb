import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { AlreadyRunningError, type WardenClient } from '../../../client';
import type { Config } from '../../../config/index';
import type { Database } from '../../../db/database';
import type { Identity, Role } from '../../../domain/identity/roles';
import { durationMs } from '../../../domain/shared/durations';
import { type IssuedApprovalToken, issueApprovalToken } from '../../../db/approval-tokens.repository';
import { operationError } from '../../operations/operation';
import { ApiError, conflict, forbidden, notFound, type Reply } from '../http';

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
  // The rest as any operation's: a refusal of the client's own validation is the caller's 400, never a 500.
  return operationError(error);
}

/** Runs a call to the workflow named by `what`, answering its refusals as {@link workflowError} does. */
export async function viaWorkflow<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw workflowError(error, what);
  }
}

/**
 * A signed approval token for `identity`, good once for `audience` (`<workflowId>:<action>`):
 * signed with the API's private key, stored, and handed out as its `wtr_…` reference.
 * 409 when this API holds no private key.
 */
export async function mintToken(deps: ApiDeps, identity: Identity, audience: string): Promise<IssuedApprovalToken> {
  const { privateKey, tokenTtl } = deps.config.approvals;
  if (privateKey === undefined)
    throw new ApiError(409, 'not_configured', 'this API holds no approval private key (WARDEN_APPROVAL_PRIVATE_KEY)');
  return issueApprovalToken(deps.db, {
    privateKey,
    environment: deps.config.environment,
    ttlMs: durationMs(tokenTtl),
    subject: identity.name,
    roles: identity.roles,
    audience,
    keyId: identity.keyId,
  });
}

/**
 * The API has authenticated the caller, so it signs the vote it passes on for
 * exactly that target: approvals through the API count in signed mode like any
 * other signed one, and the payload carries only the reference. Without a
 * private key (and signed approvals off) the vote goes unsigned.
 */
export async function signedFor(deps: ApiDeps, identity: Identity, audience: string): Promise<{ token?: string }> {
  if (deps.config.approvals.privateKey === undefined && !deps.config.approvals.signed) return {};
  return { token: (await mintToken(deps, identity, audience)).reference };
}
