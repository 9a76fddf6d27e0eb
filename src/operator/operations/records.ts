import { z } from 'zod';
import { listApiKeys } from '../../db/api-keys.repository';
import { verifyAuditChain } from '../../db/audit.repository';
import { listNotifications } from '../../db/notifications.repository';
import { buildReview } from '../review/monday-review';
import { listWaitingWorkflows, type WaitingWorkflow } from '../review/waiting-workflows';
import { ApprovalAudienceSchema } from '../../domain/identity/audience';
import { healthOptions, mintToken } from '../api/routes/shared';
import { operation } from './operation';

/** The Monday review, notifications, the audit chain, the API keys that name every caller and their approval tokens. */
export const recordOperations = {
  review: operation({
    permission: 'read',
    summary:
      'The Monday review since a time, with the workflows waiting on a person (or why Temporal was not reached).',
    input: z.strictObject({ since: z.iso.datetime({ message: 'expected an ISO date-time' }) }),
    run: async (deps, _identity, { since }) => {
      let temporalProblem: string | null = null;
      let waitingWorkflows: WaitingWorkflow[] | undefined;
      try {
        waitingWorkflows = await listWaitingWorkflows(deps.temporal, deps.config.temporal.taskQueue);
      } catch (error) {
        temporalProblem = error instanceof Error ? error.message : String(error);
      }
      const review = await buildReview(deps.db, {
        ...healthOptions(deps.config),
        since: new Date(since),
        ...(waitingWorkflows ? { waitingWorkflows } : {}),
      });
      return { review, temporalProblem };
    },
  }),
  'notifications.list': operation({
    permission: 'read',
    summary: 'The newest notifications, with each webhook delivery.',
    input: z.strictObject({ pending: z.boolean().default(false) }),
    run: (deps, _identity, { pending }) => listNotifications(deps.db, { limit: 50, pendingOnly: pending }),
  }),
  'audit.verify': operation({
    permission: 'audit:read',
    summary: "Walk the audit log's hash chains and name the first altered or removed event.",
    input: z.strictObject({}),
    run: (deps) => verifyAuditChain(deps.db),
  }),
  'keys.list': operation({
    permission: 'audit:read',
    summary: 'API keys (never their secrets).',
    input: z.strictObject({}),
    run: (deps) => listApiKeys(deps.db),
  }),
  'approvalToken.issue': operation({
    permission: 'approval_token:issue',
    summary:
      "A short-lived signed approval token with the caller's roles, good once for one target (`<workflowId>:<action>`), for the Temporal CLI or UI.",
    input: z.strictObject({ audience: ApprovalAudienceSchema }),
    run: async (deps, identity, { audience }) => {
      const issued = await mintToken(deps, identity, audience);
      return {
        token: issued.reference,
        audience: issued.audience,
        subject: issued.subject,
        roles: issued.roles,
        expiresAt: issued.expiresAt,
      };
    },
  }),
};
