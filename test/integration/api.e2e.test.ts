import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { createApiServer, serveApi } from '../../src/operator/api/server';
import { commandWorkflowId } from '../../src/domain/autonomy/commands';
import { addApprover } from '../../src/db/autonomy.repository';
import { commandExecution } from '../../workflows/command-execution';
import { createRoutes } from '../../src/operator/api/routes';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../src/domain/control-plane/ids';
import { createApiKey, revokeApiKey } from '../../src/db/api-keys.repository';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { listRestrictions } from '../../src/db/watchdogs.repository';
import { issueApprovalToken } from '../../src/security/approval-tokens';
import { allows, type Permission, ROLES, type Role } from '../../src/domain/identity/roles';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import { exec } from '../support/processes';
import { createTestDatabase, devServerAddress, markGoLivePlaybookCompleted, type RunningWorker, TEST_SETTINGS, runDevServerWorker, type TestDatabase, uniqueName } from '../helpers';

// Its own namespace: the control plane is a singleton per namespace.
const namespace = 'warden-api-e2e';
const SIGNING_KEY = 'test-signing-key-0123456789abcdef0123456789';
const RECEIVER_SECRET = 'am-secret-0123456789abcdef';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('operator API against a real server', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: RunningWorker | undefined;
  let api: { port: number; close(): Promise<void> };
  let strict: { port: number; close(): Promise<void> };
  const keys = {} as Record<Role, string>;
  const taskQueue = uniqueName('api');
  const address = devServerAddress();
  const temporal = (...args: string[]) => exec(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
  const config = loadConfig({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    WARDEN_TASK_QUEUE: taskQueue,
    WARDEN_ENV: 'test',
    WARDEN_SIGNED_APPROVALS: 'true',
    WARDEN_APPROVAL_SIGNING_KEY: SIGNING_KEY,
    WARDEN_ALERTMANAGER_RECEIVERS: `ops=${RECEIVER_SECRET}`,
  });

  const call = async (port: number, method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, body, headers: response.headers };
  };
  const as = (role: Role, method: string, path: string, body?: unknown) => call(api.port, method, path, { key: keys[role], ...(body !== undefined ? { body } : {}) });
  const refusedChanges = async (reason: RegExp) =>
    (await listAuditEvents(t.db, { kind: 'control_plane.change_refused' })).filter((e) => reason.test(String((e.details as { outcome?: { reason?: string } }).outcome?.reason)));

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: warden,
        settings: {
          ...TEST_SETTINGS,
          release: { cooldown: '2s', approvals: 1, selfApproval: false },
          approvals: { signed: true, signingKey: SIGNING_KEY },
        },
      }),
    });
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
    for (const role of ROLES) keys[role] = (await createApiKey(t.db, { identity: `${role}-user`, roles: [role], actor: 'test' })).key;
    const deps = { db: t.db, warden, temporal: client, config, registry: createGovernanceMetrics(t.db, { capitalBands: DEFAULT_CAPITAL_BANDS }) };
    api = await serveApi(createApiServer(deps, { rateLimitPerMinute: 1000 }), 0, '127.0.0.1');
    strict = await serveApi(createApiServer(deps, { rateLimitPerMinute: 4 }), 0, '127.0.0.1');
  });

  afterAll(async () => {
    await api?.close();
    await strict?.close();
    await worker?.stop();
    await client?.connection.close();
    await t?.drop();
  });

  it('serves health, readiness, metrics and an OpenAPI document of every route', async () => {
    expect(await call(api.port, 'GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(api.port, 'GET', '/ready')).toMatchObject({ status: 200, body: { ready: true, checks: { temporal: { ok: true }, database: { ok: true } } } });
    const metrics = await call(api.port, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('warden_kill_switch_engaged');
    const openApi = await call(api.port, 'GET', '/openapi.json');
    expect(openApi.body.openapi).toBe('3.1.0');
    expect(openApi.body.paths['/control-plane/kill-switch/release'].post.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['reason'],
      properties: { reason: { type: 'string' }, role: { enum: [...ROLES] } },
    });
    expect(Object.keys(openApi.body.paths)).toEqual(expect.arrayContaining(['/review', '/audit', '/engines/{engine}/restrictions', '/alerts/alertmanager']));
  });

  it('allows or refuses every role on every endpoint as the RBAC table says, auditing each refusal', async () => {
    const routes = createRoutes({ db: t.db, warden, temporal: client, config, registry: createGovernanceMetrics(t.db) }).filter((r) => r.access !== 'public' && r.access !== 'alertmanager');
    const path = (url: string) => url.replace(':engine', 'WHOLESALE').replace(':id', 'no-such-thing').replace(':operator', 'nobody');
    const refusedBefore = (await listAuditEvents(t.db, { kind: 'api.request_refused', limit: 1000 })).length;
    let refusals = 0;
    for (const route of routes) {
      for (const role of ROLES) {
        // A write gets a body with an unknown field: allowed writes stop at validation (400) and change nothing.
        const answer = await as(role, route.method, path(route.url), route.method === 'POST' ? { probe: true } : undefined);
        const expected = allows([role], route.access as Permission);
        if (expected) {
          expect([route.id, role, answer.status]).not.toEqual([route.id, role, 403]);
          expect(answer.status, `${role} ${route.method} ${route.url}`).toBe(route.method === 'POST' ? 400 : route.id === 'playbook' || route.id === 'command' ? 404 : 200);
        } else {
          expect([route.id, role, answer.status]).toEqual([route.id, role, 403]);
          refusals += 1;
        }
      }
    }
    // Spot checks of the table itself, in the issue's words.
    expect(allows(['automation'], 'kill_switch:engage')).toBe(true);
    expect(allows(['automation'], 'kill_switch:release')).toBe(false);
    expect(allows(['operator'], 'kill_switch:release')).toBe(false);
    expect(allows(['risk_officer'], 'kill_switch:release')).toBe(true);
    expect(allows(['analyst'], 'go_live:set')).toBe(false);
    expect(allows(['auditor'], 'audit:read')).toBe(true);
    expect(refusals).toBeGreaterThan(50);
    expect((await listAuditEvents(t.db, { kind: 'api.request_refused', limit: 1000 })).length - refusedBefore).toBe(refusals);
    // Nothing changed: every allowed write stopped at validation.
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 0 });
  });

  it('names the field in a 400, and changes nothing', async () => {
    expect(await as('operator', 'POST', '/control-plane/kill-switch/engage', {})).toMatchObject({ status: 400, body: { error: 'invalid_request', message: expect.stringMatching(/^body\.reason: /) } });
    expect(await as('owner', 'POST', '/control-plane/apply-mode', { mode: 'yolo' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.mode: /) } });
    expect(await as('owner', 'POST', '/control-plane/apply-mode', '{"mode": ')).toMatchObject({ status: 400, body: { error: 'invalid_request', message: expect.stringMatching(/^body: /) } });
    expect(await as('owner', 'POST', '/engines/wholesale/restrictions', { restriction: 'pause', reason: 'x' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^params\.engine: /) } });
    expect(await as('analyst', 'GET', '/audit?limit=0')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^query\.limit: /) } });
    expect(await as('analyst', 'GET', '/review?since=last-tuesday')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^query\.since: expected a duration/) } });
    expect(await as('analyst', 'GET', '/review?since=1d')).toMatchObject({ status: 200, body: { health: { status: expect.any(String) }, awaitingApproval: expect.any(Object) } });
    expect(await as('owner', 'POST', '/proposals/no-such-proposal/approve', {})).toMatchObject({ status: 404 });
    expect(await as('engineer', 'POST', '/commands/no-such-command/approve', {})).toMatchObject({ status: 404 });
    expect(await readControlPlaneState(t.db)).toMatchObject({ version: 0 });
  });

  it('401 without a key, with an unknown key and with a revoked one', async () => {
    expect(await call(api.port, 'GET', '/control-plane')).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });
    expect(await call(api.port, 'GET', '/control-plane', { key: 'wk_000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).toMatchObject({ status: 401, body: { message: 'unknown API key' } });
    const { key, view } = await createApiKey(t.db, { identity: 'leaver', roles: ['owner'], actor: 'test' });
    expect(await call(api.port, 'GET', '/whoami', { key })).toMatchObject({ status: 200, body: { name: 'leaver', roles: ['owner'] } });
    await revokeApiKey(t.db, view.id, 'test', 'left the company');
    expect(await call(api.port, 'GET', '/whoami', { key })).toMatchObject({ status: 401, body: { message: `API key ${view.id} was revoked` } });
  });

  it('429 past the per-key, per-endpoint limit, with Retry-After; other keys and endpoints unaffected', async () => {
    for (let i = 0; i < 4; i += 1) expect((await call(strict.port, 'GET', '/control-plane', { key: keys.analyst })).status).toBe(200);
    const limited = await call(strict.port, 'GET', '/control-plane', { key: keys.analyst });
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(strict.port, 'GET', '/capital', { key: keys.analyst })).status).toBe(200);
    expect((await call(strict.port, 'GET', '/control-plane', { key: keys.manager })).status).toBe(200);
  });

  it('kill switch: engaged at once by a write role; release refused for non-approvers and during the cooldown, accepted after; every attempt audited', async () => {
    const engaged = await as('operator', 'POST', '/control-plane/kill-switch/engage', { reason: 'drill' });
    expect(engaged).toMatchObject({ status: 200, body: { outcome: { status: 'applied' }, state: { killSwitchEngaged: true, killSwitchEngagedBy: 'operator-user' } } });
    expect(await as('operator', 'POST', '/control-plane/kill-switch/release', { reason: 'done' })).toMatchObject({ status: 403 });
    expect(await as('analyst', 'POST', '/control-plane/kill-switch/release', { reason: 'done' })).toMatchObject({ status: 403 });
    const early = await as('risk_officer', 'POST', '/control-plane/kill-switch/release', { reason: 'looks fine' });
    expect(early).toMatchObject({ status: 409, body: { error: 'refused', message: expect.stringMatching(/^cooldown: /), state: { killSwitchEngaged: true } } });
    await new Promise((r) => setTimeout(r, 2100));
    const released = await as('risk_officer', 'POST', '/control-plane/kill-switch/release', { reason: 'drill over' });
    expect(released).toMatchObject({ status: 200, body: { outcome: { status: 'applied' }, state: { killSwitchEngaged: false } } });

    const refused = (await listAuditEvents(t.db, { kind: 'api.request_refused', limit: 1000 })).filter((e) => e.subject === 'route:releaseKillSwitch' && !JSON.stringify(e.details).includes('probe'));
    expect(refused.map((e) => e.actor)).toEqual(expect.arrayContaining(['operator-user', 'analyst-user']));
    expect(await refusedChanges(/^cooldown: /)).toHaveLength(1);
    const [release] = await listAuditEvents(t.db, { kind: 'control_plane.kill_switch_released' });
    // Signed mode: the API signed the vote for the authenticated identity; the trail keeps no token.
    expect(release).toMatchObject({ actor: 'risk_officer-user', details: { change: { role: 'risk_officer', token: '(redacted)' } } });
  });

  it('signed mode: an unsigned approval sent with the real temporal CLI is refused and audited; an expired token is refused; a signed one passes', async () => {
    await as('engineer', 'POST', '/control-plane/kill-switch/engage', { reason: 'signed-mode drill' });
    await new Promise((r) => setTimeout(r, 2100));
    const signal = (payload: object) => temporal('workflow', 'signal', '--workflow-id', CONTROL_PLANE_WORKFLOW_ID, '--name', 'releaseKillSwitch', '--input', JSON.stringify(payload));

    expect(await signal({ actor: 'risk_officer-user', role: 'risk_officer', reason: 'unsigned' })).toMatchObject({ code: 0 });
    await waitFor('the unsigned refusal', async () => ((await refusedChanges(/^token: signed approvals are on/)).length === 1 ? true : undefined));

    const expired = issueApprovalToken({ subject: 'risk_officer-user', roles: ['risk_officer'], environment: 'test', ttlMs: 60_000, key: SIGNING_KEY, now: new Date(Date.now() - 3_600_000) });
    expect(await signal({ actor: 'risk_officer-user', reason: 'expired', token: expired.token })).toMatchObject({ code: 0 });
    await waitFor('the expired refusal', async () => ((await refusedChanges(/^token: expired at /)).length === 1 ? true : undefined));
    const forged = issueApprovalToken({ subject: 'risk_officer-user', roles: ['risk_officer'], environment: 'test', ttlMs: 60_000, key: 'not-the-signing-key-0123456789abcdef' });
    expect(await signal({ actor: 'risk_officer-user', reason: 'forged', token: forged.token })).toMatchObject({ code: 0 });
    await waitFor('the forged refusal', async () => ((await refusedChanges(/^token: bad signature/)).length === 1 ? true : undefined));
    expect(await readControlPlaneState(t.db)).toMatchObject({ killSwitchEngaged: true });

    const issued = await as('risk_officer', 'POST', '/approval-tokens', {});
    expect(issued).toMatchObject({ status: 201, body: { subject: 'risk_officer-user', roles: ['risk_officer'] } });
    expect(await signal({ actor: 'risk_officer-user', reason: 'signed', token: issued.body.token })).toMatchObject({ code: 0 });
    await waitFor('the signed release', async () => ((await readControlPlaneState(t.db)).killSwitchEngaged ? undefined : true));
    // Each token approves once.
    await as('engineer', 'POST', '/control-plane/kill-switch/engage', { reason: 'again' });
    await new Promise((r) => setTimeout(r, 2100));
    expect(await signal({ actor: 'risk_officer-user', reason: 'replayed', token: issued.body.token })).toMatchObject({ code: 0 });
    await waitFor('the replay refusal', async () => ((await refusedChanges(/^token: already used/)).length === 1 ? true : undefined));
    expect(await as('manager', 'POST', '/control-plane/kill-switch/release', { reason: 'reviewed' })).toMatchObject({ status: 200, body: { state: { killSwitchEngaged: false } } });
  });

  it('Alertmanager: a wrong secret is 401; a firing kill_switch alert engages; pause restricts the engine; resolved changes nothing', async () => {
    const alert = (status: 'firing' | 'resolved', labels: Record<string, string>) => ({
      version: '4',
      status,
      receiver: 'warden',
      groupLabels: {},
      commonLabels: labels,
      alerts: [{ status, labels: { alertname: 'CanaryFailing', ...labels }, annotations: { summary: 'canary failing 3 times' }, startsAt: new Date().toISOString(), fingerprint: 'abc123' }],
    });
    const post = (body: unknown, secret = RECEIVER_SECRET, receiver = 'ops') =>
      call(api.port, 'POST', `/alerts/alertmanager?receiver=${receiver}`, { body, headers: { authorization: `Bearer ${secret}` } });
    expect(await post(alert('firing', { warden_action: 'kill_switch' }), 'wrong-secret-0123456789')).toMatchObject({ status: 401 });
    expect(await post(alert('firing', { warden_action: 'kill_switch' }), RECEIVER_SECRET, 'nobody')).toMatchObject({ status: 401 });
    expect(await readControlPlaneState(t.db)).toMatchObject({ killSwitchEngaged: false });

    expect(await post({ status: 'firing' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.alerts: /) } });
    const fired = await post(alert('firing', { warden_action: 'kill_switch' }));
    expect(fired).toMatchObject({ status: 200, body: { results: [{ alert: 'CanaryFailing', action: 'kill_switch', outcome: { status: 'applied' } }] } });
    const engaged = await readControlPlaneState(t.db);
    expect(engaged).toMatchObject({ killSwitchEngaged: true, killSwitchSource: 'alertmanager', killSwitchEngagedBy: 'alertmanager:ops' });

    expect(await post(alert('firing', { warden_action: 'pause', engine: 'WHOLESALE', alertname: 'TripwireFired' }))).toMatchObject({ status: 200, body: { results: [{ action: 'pause', engine: 'WHOLESALE' }] } });
    expect(await listRestrictions(t.db)).toEqual(expect.arrayContaining([expect.objectContaining({ engine: 'WHOLESALE', kind: 'pause', source: 'alertmanager' })]));

    const resolved = await post(alert('resolved', { warden_action: 'kill_switch' }));
    expect(resolved).toMatchObject({ status: 200, body: { results: [{ status: 'resolved', action: 'recorded' }] } });
    expect(await readControlPlaneState(t.db)).toMatchObject({ killSwitchEngaged: true, version: engaged.version });
    expect(await listAuditEvents(t.db, { kind: 'alert.resolved' })).toHaveLength(1);
  });

  it('a command waiting for a human is approved through the API, signed for the caller, in the role the key maps to', async () => {
    await addApprover(t.db, 'tech_lead', 'engineer-user', 'test');
    const commandId = uniqueName('cmd');
    const handle = await client.workflow.start(commandExecution, { taskQueue, workflowId: commandWorkflowId(commandId), args: [{ commandId, commandType: 'SET_DRUM', params: {}, requestedBy: 'agent' }] });
    await waitFor('the command to wait', async () => ((await as('analyst', 'GET', `/commands/${commandId}`)).body.stage === 'awaiting_approval' ? true : undefined));
    expect(await as('operator', 'POST', `/commands/${commandId}/approve`, { role: 'tech_lead' })).toMatchObject({ status: 403, body: { message: 'role: acting as tech_lead needs the engineer role' } });
    // ops_lead is the operator's own role, but operator-user is not on the command's allowlist: refused by the workflow.
    expect(await as('operator', 'POST', `/commands/${commandId}/approve`, {})).toMatchObject({ status: 409, body: { message: expect.stringMatching(/^the approve was refused/) } });
    const approved = await as('engineer', 'POST', `/commands/${commandId}/approve`, { comment: 'checked' });
    expect(approved).toMatchObject({ status: 200, body: { decision: { kind: 'approve', approver: 'engineer-user', role: 'tech_lead' } } });
    expect(approved.body.decision.token).toBeUndefined();
    expect(await handle.result()).toMatchObject({ status: 'succeeded', autonomous: false });
    expect(await as('engineer', 'POST', `/commands/${commandId}/approve`, {})).toMatchObject({ status: 409 });
  });

  it('the playbook through the API: steps are done as the caller, and refused (409) while health is RED', async () => {
    expect(await as('operator', 'POST', '/playbook/start', {})).toMatchObject({ status: 201, body: { workflowId: 'go-live-playbook' } });
    expect(await as('operator', 'POST', '/playbook/start', {})).toMatchObject({ status: 409 });
    expect(await as('operator', 'POST', '/playbook/steps', { step: 'preflight', evidence: 'migrations applied' })).toMatchObject({ status: 200, body: { status: 'accepted', step: 'preflight' } });
    // The Alertmanager test left the kill switch engaged: health is RED, so only preflight could proceed.
    const refused = await as('operator', 'POST', '/playbook/steps', { step: 'risk_policies_reviewed', evidence: 'caps checked' });
    expect(refused).toMatchObject({ status: 409, body: { error: 'refused', message: expect.stringMatching(/RED/) } });
    expect(await as('operator', 'POST', '/playbook/steps', { step: 'sign_off', evidence: 'early' })).toMatchObject({ status: 409, body: { message: expect.stringMatching(/out of order/) } });
    const playbook = await as('analyst', 'GET', '/playbook');
    expect(playbook).toMatchObject({ status: 200, body: { status: 'in_progress', steps: [{ step: 'preflight', actor: 'operator-user' }] } });
    const review = await as('analyst', 'GET', '/review');
    expect(review.body.awaitingApproval.playbooks).toEqual([{ id: 'go-live-playbook', startedBy: 'operator-user', startedAt: expect.any(String), stepsDone: 1, stepsTotal: 9, nextStep: 'risk_policies_reviewed' }]);
  });

  it('go-live is refused before a playbook completed and accepted after', async () => {
    const refused = await as('owner', 'POST', '/control-plane/go-live', { enabled: true, reason: 'launch' });
    expect(refused).toMatchObject({ status: 409, body: { message: expect.stringMatching(/^enabled: go-live needs a completed goLivePlaybook/) } });
    await markGoLivePlaybookCompleted(t.db);
    expect(await as('owner', 'POST', '/control-plane/go-live', { enabled: true, reason: 'launch' })).toMatchObject({ status: 200, body: { state: { goLiveEnabled: true } } });
    const [event] = await listAuditEvents(t.db, { kind: 'control_plane.go_live_set' });
    expect(event).toMatchObject({ actor: 'owner-user' });
  });
});
