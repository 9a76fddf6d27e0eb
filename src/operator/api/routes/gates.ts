import { listScorecards } from '../../../db/heimdall.repository';
import { listPermits } from '../../../db/permits.repository';
import { listGovernanceLog } from '../../../db/strategy-outcomes.repository';
import { utcDay } from '../../../domain/risk/rules';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok, Paging } from './shared';

/** What the deal gates recorded: prod-eligibility scorecards, execution permits, strategy-gate decisions. */
export function gateRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'scorecards',
      method: 'GET',
      url: '/scorecards',
      access: 'read',
      summary: "Today's prod-eligibility scorecards per domain.",
      handle: async () => ok(await listScorecards(db, utcDay(new Date()))),
    }),
    route({
      id: 'permits',
      method: 'GET',
      url: '/permits',
      access: 'read',
      summary: 'Execution permits, blocks and disarms.',
      query: Paging,
      handle: async ({ query }) => ok(await listPermits(db, { limit: query.limit })),
    }),
    route({
      id: 'governanceLog',
      method: 'GET',
      url: '/governance-log',
      access: 'read',
      summary: 'Strategy-gate decisions, newest first.',
      query: Paging,
      handle: async ({ query }) => ok(await listGovernanceLog(db, { limit: query.limit })),
    }),
  ];
}
