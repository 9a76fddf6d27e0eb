import { describe, expect, it } from 'vitest';
import { createRoutes } from '../../src/operator/api/routes';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { createApiKey, revokeApiKey } from '../../src/db/api-keys.repository';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { allows, type Permission, ROLES } from '../../src/domain/identity/roles';
import { useApiServer } from './api-server';

// The edge of the API: authentication, RBAC, validation and rate limits. No
// worker runs here, so nothing can change: the writes live in api-writes.e2e.test.ts.
describe('operator API against a real server', () => {
  const { env, keys, config, call, as } = useApiServer({ label: 'api', worker: false });

  it('serves health, readiness, metrics and an OpenAPI document of every route', async () => {
    expect(await call(env.api.port, 'GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(env.api.port, 'GET', '/ready')).toMatchObject({
      status: 200,
      body: { ready: true, checks: { temporal: { ok: true }, database: { ok: true } } },
    });
    const metrics = await call(env.api.port, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('warden_kill_switch_engaged');
    const openApi = await call(env.api.port, 'GET', '/openapi.json');
    expect(openApi.body.openapi).toBe('3.1.0');
    expect(
      openApi.body.paths['/control-plane/kill-switch/release'].post.requestBody.content['application/json'].schema,
    ).toMatchObject({
      type: 'object',
      required: ['reason'],
      properties: { reason: { type: 'string' }, role: { enum: [...ROLES] } },
    });
    expect(Object.keys(openApi.body.paths)).toEqual(
      expect.arrayContaining(['/review', '/audit', '/engines/{engine}/restrictions', '/alerts/alertmanager']),
    );
  });

  it('allows or refuses every role on every endpoint as the RBAC table says, auditing each refusal', async () => {
    const routes = createRoutes({
      db: env.t.db,
      warden: env.warden,
      temporal: env.client,
      config,
      registry: createGovernanceMetrics(env.t.db),
    }).filter((r) => r.access !== 'public' && r.access !== 'alertmanager');
    const path = (url: string) =>
      url.replace(':engine', 'WHOLESALE').replace(':id', 'no-such-thing').replace(':operator', 'nobody');
    const refusedBefore = (await listAuditEvents(env.t.db, { kind: 'api.request_refused', limit: 1000 })).length;
    let refusals = 0;
    for (const route of routes) {
      for (const role of ROLES) {
        // A write gets a body with an unknown field: allowed writes stop at validation (400) and change nothing.
        const answer = await as(
          role,
          route.method,
          path(route.url),
          route.method === 'POST' ? { probe: true } : undefined,
        );
        const expected = allows([role], route.access as Permission);
        if (expected) {
          expect([route.id, role, answer.status]).not.toEqual([route.id, role, 403]);
          expect(answer.status, `${role} ${route.method} ${route.url}`).toBe(
            route.method === 'POST'
              ? 400
              : // A lookup of one thing: none exists here (no week's workflow runs in this test either).
                ['playbook', 'command', 'changeRequest', 'week', 'governanceReportLatest'].includes(route.id)
                ? 404
                : route.id === 'governanceReport' // `no-such-thing` is not a report id
                  ? 400
                  : 200,
          );
        } else {
          expect([route.id, role, answer.status]).toEqual([route.id, role, 403]);
          refusals += 1;
        }
      }
    }
    // Spot checks of the table itself, in the words.
    expect(allows(['automation'], 'kill_switch:engage')).toBe(true);
    expect(allows(['automation'], 'kill_switch:release')).toBe(false);
    expect(allows(['operator'], 'kill_switch:release')).toBe(false);
    expect(allows(['risk_officer'], 'kill_switch:release')).toBe(true);
    expect(allows(['analyst'], 'go_live:set')).toBe(false);
    expect(allows(['auditor'], 'audit:read')).toBe(true);
    expect(refusals).toBeGreaterThan(50);
    expect((await listAuditEvents(env.t.db, { kind: 'api.request_refused', limit: 1000 })).length - refusedBefore).toBe(
      refusals,
    );
    // Nothing changed: every allowed write stopped at validation.
    expect(await readControlPlaneState(env.t.db)).toMatchObject({ version: 0 });
  });

  it('names the field in a 400, and changes nothing', async () => {
    expect(await as('operator', 'POST', '/control-plane/kill-switch/engage', {})).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', message: expect.stringMatching(/^body\.reason: /) },
    });
    expect(await as('owner', 'POST', '/control-plane/apply-mode', { mode: 'yolo' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^body\.mode: /) },
    });
    expect(await as('owner', 'POST', '/control-plane/apply-mode', '{"mode": ')).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', message: expect.stringMatching(/^body: /) },
    });
    expect(
      await as('owner', 'POST', '/engines/wholesale/restrictions', { restriction: 'pause', reason: 'x' }),
    ).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^params\.engine: /) } });
    expect(await as('analyst', 'GET', '/audit?limit=0')).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^query\.limit: /) },
    });
    // Past a bigint (the fuzz at 1,000 found a 500): refused naming the field, before any query.
    expect(await as('analyst', 'GET', '/audit?before=9223372036854776000')).toMatchObject({
      status: 400,
      body: { message: 'query.before: expected an audit event id' },
    });
    expect(await as('analyst', 'GET', '/review?since=last-tuesday')).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^query\.since: expected a duration/) },
    });
    expect(await as('analyst', 'GET', '/review?since=1d')).toMatchObject({
      status: 200,
      body: { health: { status: expect.any(String) }, awaitingApproval: expect.any(Object) },
    });
    // A lone surrogate, percent-encoded, is no UTF-8: Fastify cannot decode the path, and says where.
    expect(await as('analyst', 'GET', '/commands/M%ED%A0%80x')).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', message: 'params: the path is not valid percent-encoded UTF-8' },
    });
    expect(await as('owner', 'POST', '/proposals/no-such-proposal/approve', {})).toMatchObject({ status: 404 });
    expect(await as('engineer', 'POST', '/commands/no-such-command/approve', {})).toMatchObject({ status: 404 });
    expect(await readControlPlaneState(env.t.db)).toMatchObject({ version: 0 });
  });

  it('401 without a key, with an unknown key and with a revoked one', async () => {
    expect(await call(env.api.port, 'GET', '/control-plane')).toMatchObject({
      status: 401,
      body: { error: 'unauthenticated' },
    });
    expect(
      await call(env.api.port, 'GET', '/control-plane', {
        key: 'wk_000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      }),
    ).toMatchObject({ status: 401, body: { message: 'unknown API key' } });
    const { key, view } = await createApiKey(env.t.db, { identity: 'leaver', roles: ['owner'], actor: 'test' });
    expect(await call(env.api.port, 'GET', '/whoami', { key })).toMatchObject({
      status: 200,
      body: { name: 'leaver', roles: ['owner'] },
    });
    await revokeApiKey(env.t.db, view.id, 'test', 'left the company');
    expect(await call(env.api.port, 'GET', '/whoami', { key })).toMatchObject({
      status: 401,
      body: { message: `API key ${view.id} was revoked` },
    });
  });

  it('429 past the per-key, per-endpoint limit, with Retry-After; other keys and endpoints unaffected', async () => {
    for (let i = 0; i < 4; i += 1)
      expect((await call(env.strict.port, 'GET', '/control-plane', { key: keys.analyst })).status).toBe(200);
    const limited = await call(env.strict.port, 'GET', '/control-plane', { key: keys.analyst });
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(env.strict.port, 'GET', '/capital', { key: keys.analyst })).status).toBe(200);
    expect((await call(env.strict.port, 'GET', '/control-plane', { key: keys.manager })).status).toBe(200);
  });

  it("serves seed 002's reports and metrics snapshots, and types its _total series as counters", async () => {
    const db = env.t.db;
    const [report] = await db
      .insertInto('governance_report')
      .values({
        at: new Date('2026-11-27T23:00:00Z'),
        report: JSON.stringify({ decision: { expand: false } }),
        proposal_id: null,
      })
      .returning('id')
      .execute();
    await db
      .insertInto('metrics_snapshot')
      .values([
        {
          window_start: new Date('2026-11-13T00:00:00Z'),
          window_end: new Date('2026-11-20T00:00:00Z'),
          metrics: JSON.stringify({ successRate: 0.9 }),
        },
        {
          window_start: new Date('2026-11-20T00:00:00Z'),
          window_end: new Date('2026-11-27T00:00:00Z'),
          metrics: JSON.stringify({ successRate: 0.95 }),
        },
      ])
      .execute();
    const id = String(report!.id);
    expect(await as('analyst', 'GET', '/governance/reports/latest')).toMatchObject({
      status: 200,
      body: { id, at: '2026-11-27T23:00:00.000Z', report: { decision: { expand: false } } },
    });
    expect(await as('analyst', 'GET', `/governance/reports/${id}`)).toMatchObject({ status: 200, body: { id } });
    expect(await as('analyst', 'GET', '/governance/reports/99999999')).toMatchObject({ status: 404 });
    expect((await as('analyst', 'GET', '/governance/reports?limit=1')).body).toHaveLength(1);
    expect(await as('analyst', 'GET', '/governance/reports?limit=0')).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^query\.limit: /) },
    });
    const snapshots = await as('analyst', 'GET', '/governance/metrics?start=2026-11-25T00:00:00Z');
    expect(snapshots.body).toMatchObject([{ windowEnd: '2026-11-27T00:00:00.000Z', metrics: { successRate: 0.95 } }]);
    expect((await as('analyst', 'GET', '/governance/metrics')).body).toHaveLength(2);

    const text = String((await call(env.api.port, 'GET', '/metrics')).body);
    for (const counter of [
      'simcorp_governance_commands_total',
      'simcorp_governance_incidents_total',
      'simcorp_governance_circuit_breaker_events_total',
      'simcorp_governance_safety_constraint_violations_total',
      'simcorp_governance_safety_emergency_aborts_total',
      'warden_governance_decisions_total',
    ])
      expect(text, counter).toContain(`# TYPE ${counter} counter`);
    expect(text).toContain('# TYPE warden_kill_switch_engaged gauge');
    expect(text).toMatch(/^simcorp_governance_safety_emergency_aborts_total \d+$/m);
  });
});
