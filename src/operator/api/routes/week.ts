import { z } from 'zod';
import { WeekIdSchema } from '../../../domain/autonomy/week';
import { type Operation, runOperation } from '../../operations/operation';
import { weekOperations } from '../../operations/week';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok } from './shared';

const WeekQuery = z.strictObject({ week: WeekIdSchema.optional() });

/**
 * This ISO week's governance (issue 19) as REST: the same operations (and so the same permissions, actor
 * and updates) as `warden week` and `POST /operations/week.*`. `week` (2026-W49) names another week.
 */
export function weekRoutes(deps: ApiDeps): RouteSpec[] {
  const steer = (op: Operation, url: string, summary: string) =>
    route<unknown>({
      id: `week:${url}`,
      method: 'POST',
      url,
      access: op.permission,
      summary,
      body: op.input,
      handle: async ({ identity, body }) => ok(await runOperation(op, deps, identity, body)),
    });
  return [
    route({
      id: 'week',
      method: 'GET',
      url: '/week',
      access: 'read',
      summary: weekOperations['week.status'].summary,
      query: WeekQuery,
      handle: async ({ identity, query }) =>
        ok(await runOperation(weekOperations['week.status'], deps, identity, query)),
    }),
    steer(weekOperations['week.acknowledge'], '/week/acknowledge', 'Acknowledge the Monday review: {note?, week?}.'),
    steer(
      weekOperations['week.hold'],
      '/week/holds',
      'Hold expansion, promotions or all, at once: {scope, reason, week?}.',
    ),
    steer(
      weekOperations['week.release'],
      '/week/release',
      "Lift the week's holds: an approver role (named when the key holds several), never whoever held: {reason, role?, week?}.",
    ),
    steer(weekOperations['week.note'], '/week/notes', 'A note on the week: {text, week?}.'),
  ];
}
