import { z } from 'zod';
import { redactToken } from '../../../domain/identity/redact';
import { rowIdSchema, safeText } from '../../../domain/shared/validation';
import { listAuditEvents } from '../../../db/audit.repository';
import { buildReview } from '../../review/monday-review';
import { SinceSchema } from '../../review/since';
import { listWaitingWorkflows } from '../../review/waiting-workflows';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, healthOptions, ok } from './shared';

const AuditPaging = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Events with an id below this one: the next page. */
  before: rowIdSchema('expected an audit event id').optional(),
  kind: safeText({ max: 200 }).optional(),
});
const SinceQuery = z.strictObject({ since: SinceSchema.optional() });

/** The trail: the audit log, paged, and the Monday review drawn from it. */
export function auditRoutes(deps: ApiDeps): RouteSpec[] {
  const { db, config } = deps;
  return [
    route({
      id: 'audit',
      method: 'GET',
      url: '/audit',
      access: 'audit:read',
      summary: 'The audit log, newest first, paged with ?before=<id>.',
      query: AuditPaging,
      handle: async ({ query }) => {
        const events = await listAuditEvents(db, {
          limit: query.limit,
          ...(query.before ? { before: query.before } : {}),
          ...(query.kind ? { kind: query.kind } : {}),
        });
        const last = events.at(-1);
        return ok({
          // Written redacted; masked again on the way out, for events older than central redaction.
          events: events.map((e) => ({ ...e, details: redactToken(e.details) })),
          next: events.length === query.limit && last ? `/audit?limit=${query.limit}&before=${last.id}` : null,
        });
      },
    }),
    route({
      id: 'review',
      method: 'GET',
      url: '/review',
      access: 'read',
      summary:
        'The Monday review: what broke, what was denied, what drifted, what waits for approval, band and health.',
      query: SinceQuery,
      handle: async ({ query }) => {
        const since = query.since;
        const waitingWorkflows = await listWaitingWorkflows(deps.temporal, config.temporal.taskQueue).catch(
          () => undefined,
        );
        return ok(
          await buildReview(db, {
            ...healthOptions(config),
            ...(since ? { since } : {}),
            ...(waitingWorkflows ? { waitingWorkflows } : {}),
          }),
        );
      },
    }),
  ];
}
