import { readCapitalUsage } from '../../../db/capital.repository';
import { readHealth } from '../../../db/health.repository';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, healthOptions, ok } from './shared';

/** Liveness, readiness, Prometheus metrics, and the health and capital band an operator checks first. */
export function systemRoutes(deps: ApiDeps): RouteSpec[] {
  const { db, config } = deps;
  return [
    route({
      id: 'health',
      method: 'GET',
      url: '/health',
      access: 'public',
      summary: 'Liveness: the API process answers.',
      handle: async () => ok({ status: 'ok' }),
    }),
    route({
      id: 'ready',
      method: 'GET',
      url: '/ready',
      access: 'public',
      summary: 'Readiness: Temporal and the database are reachable.',
      handle: async () => {
        const probe = async (check: () => Promise<unknown>) => {
          try {
            await Promise.race([
              check(),
              new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 3 s')), 3000)),
            ]);
            return { ok: true };
          } catch (error) {
            return { ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        };
        const [temporal, database] = await Promise.all([
          probe(() => deps.temporal.workflowService.getSystemInfo({})),
          probe(() => db.selectFrom('control_plane_state').select('id').executeTakeFirstOrThrow()),
        ]);
        const ready = temporal.ok && database.ok;
        return ok({ ready, checks: { temporal, database } }, ready ? 200 : 503);
      },
    }),
    route({
      id: 'metrics',
      method: 'GET',
      url: '/metrics',
      access: 'public',
      summary: 'Prometheus metrics.',
      handle: async () => ({
        status: 200,
        body: await deps.registry.metrics(),
        contentType: deps.registry.contentType,
      }),
    }),
    route({
      id: 'capital',
      method: 'GET',
      url: '/capital',
      access: 'read',
      summary: "Today's capital usage and band (A–D).",
      handle: async () => ok(await readCapitalUsage(db, config.capitalBands)),
    }),
    route({
      id: 'status',
      method: 'GET',
      url: '/status',
      access: 'read',
      summary: 'Health R/Y/G with its reasons and the capital band.',
      handle: async () => ok(await readHealth(db, healthOptions(config))),
    }),
  ];
}
