import { z } from 'zod';
import { ReasonSchema } from '../../../domain/control-plane/types';
import { ledgerReport } from '../../../db/risk.repository';
import { listRestrictions, regressionStates } from '../../../db/watchdogs.repository';
import { EngineSchema, utcDay } from '../../../domain/risk/rules';
import { route, type RouteSpec } from '../http';
import { change, ChangeResultSchema } from './control-plane';
import { type ApiDeps, ok, sourceOf } from './shared';

/** Today's risk ledger, the regression tripwire and the engine restrictions it (or an operator) sets. */
export function riskRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'riskLedgerToday',
      method: 'GET',
      url: '/risk/ledger/today',
      access: 'read',
      summary: "Today's risk ledger per engine and denials by reason.",
      handle: async () => ok(await ledgerReport(db, utcDay(new Date()))),
    }),
    route({
      id: 'regression',
      method: 'GET',
      url: '/regression',
      access: 'read',
      summary: 'Regression tripwire states and active engine restrictions.',
      handle: async () => ok({ states: await regressionStates(db), restrictions: await listRestrictions(db) }),
    }),
    route({
      id: 'restrictEngine',
      method: 'POST',
      url: '/engines/:engine/restrictions',
      access: 'engine:restrict',
      summary: 'Throttle or pause one engine.',
      params: z.strictObject({ engine: EngineSchema }),
      body: z.strictObject({
        restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }),
        reason: ReasonSchema,
      }),
      response: ChangeResultSchema,
      handle: ({ identity, params, body }) =>
        change(deps, {
          kind: 'restrictEngine',
          engine: params.engine,
          restriction: body.restriction,
          source: sourceOf(identity),
          actor: identity.name,
          reason: body.reason,
        }),
    }),
  ];
}
