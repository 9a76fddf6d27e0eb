import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listCommandPolicies } from '../../src/db/command-policies.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { readExecutionPolicy } from '../../src/db/execution-policies.repository';
import { listChangeRequests } from '../../src/db/change-requests.repository';
import { listRiskPolicies } from '../../src/db/risk.repository';
import { wardenCli } from '../support/processes';
import { useApiServer, waitFor } from './api-server';

// Policy as code and the converted setters, through the API and the `warden` command with a key, in
// production mode (signed approvals): a tightening applies at once, a loosening waits for others.
describe('policy as code and setters as change requests', () => {
  const { env, keys, as, call } = useApiServer({ label: 'policy-code', worker: true, namespace: 'warden-policy-e2e' });
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cliAs = (role: keyof typeof keys) =>
    wardenCli({ WARDEN_API_URL: `http://127.0.0.1:${env.api.port}`, WARDEN_API_KEY: keys[role] });
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };

  it('GET /policy answers JSON, or YAML by Accept; a bad file is refused naming its line, path and field', async () => {
    const json = await as('analyst', 'GET', '/policy');
    expect(json).toMatchObject({
      status: 200,
      body: { version: 1, controlPlane: { goLive: false, applyMode: 'dry_run' } },
    });
    const yaml = await call(env.api.port, 'GET', '/policy', {
      key: keys.analyst,
      headers: { accept: 'application/yaml' },
    });
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(yaml.body).toMatch(/^# Warden policies/);
    const bad = await call(env.api.port, 'POST', '/policy/plan', {
      key: keys.analyst,
      headers: { 'content-type': 'application/yaml' },
      body: 'risk:\n  GLOBAL:\n    maxDailyLoss: -1\n    maxDailyExposure: null\n    maxOpenRisk: null\n    maxActionsPerDay: null\n    enabled: true\n',
    });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: 'invalid_policy', message: 'body:3: risk.GLOBAL.maxDailyLoss: must be 0 or more' },
    });
  });

  it('`warden policy plan` on a file with a bad field names the file, the line, the path and the field', async () => {
    const at = file('bad.yaml', 'controlPlane:\n  applyMode: fast\n');
    const ran = await cliAs('analyst')(['policy', 'plan', '-f', at]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`${at}:2: controlPlane.applyMode:`);
  });

  it('export → apply of an unchanged file changes nothing', async () => {
    const exported = await cliAs('analyst')(['policy', 'export']);
    expect(exported.code).toBe(0);
    const at = file('policies.yaml', exported.stdout);
    const before = (await listChangeRequests(env.t.db)).length;
    const plan = await cliAs('analyst')(['policy', 'plan', '-f', at]);
    expect(plan.stdout).toContain('no changes: the file matches the running state');
    const applied = await cliAs('risk_officer')(['policy', 'apply', '-f', at]);
    expect(applied).toMatchObject({ code: 0, stdout: expect.stringContaining('nothing to apply') });
    expect((await listChangeRequests(env.t.db)).length).toBe(before);
  });

  it('a tightening setter applies at once and says so (API and CLI)', async () => {
    const api = await as('risk_officer', 'POST', '/engines/CAPITAL/execution-policy', {
      executionClass: 'SANDBOX_EXEC',
      strategyRequired: true,
      recommendationRequired: false,
      reason: 'lab only',
    });
    expect(api).toMatchObject({
      status: 200,
      body: { engine: 'CAPITAL', executionClass: 'SANDBOX_EXEC', changeRequest: { applied: true, status: 'applied' } },
    });
    const cli = await cliAs('operator')([
      'command-policies',
      'set',
      'DEPLOY',
      '--class',
      'OBSERVE_ONLY',
      '--reason',
      'freeze',
    ]);
    expect(cli).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once \(it only tightens\)/) });
    expect(await listCommandPolicies(env.t.db)).toContainEqual(
      expect.objectContaining({ commandType: 'DEPLOY', executionClass: 'OBSERVE_ONLY' }),
    );
  });

  it('a loosening setter through the API waits for others: not applied alone, applied after both approvals', async () => {
    const opened = await as('engineer', 'POST', '/command-policies/DEPLOY', {
      executionClass: 'PROD_EXEC',
      reason: 'thaw',
    });
    expect(opened).toMatchObject({
      status: 202,
      body: {
        changeRequest: { applied: false, status: 'pending', message: expect.stringMatching(/^pending approval/) },
      },
    });
    const id = opened.body.changeRequest.changeRequestId as string;
    expect(await listCommandPolicies(env.t.db)).toContainEqual(
      expect.objectContaining({ executionClass: 'OBSERVE_ONLY' }),
    );
    // Its requester cannot approve it; a risk officer and a manager can.
    expect(await as('engineer', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({ status: 409 });
    expect(await as('risk_officer', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({
      status: 200,
      body: { status: 'pending' },
    });
    expect(await as('manager', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({
      status: 200,
      body: { status: expect.stringMatching(/^(approved|applied)$/) },
    });
    await waitFor('DEPLOY back to PROD_EXEC', async () =>
      (await listCommandPolicies(env.t.db)).some((p) => p.commandType === 'DEPLOY' && p.executionClass === 'PROD_EXEC')
        ? true
        : undefined,
    );
  });

  it('`warden apply-mode testnet` answers a pending change request; others approve it with `warden change approve`', async () => {
    const asked = await cliAs('manager')(['apply-mode', 'testnet', '--reason', 'sandbox week']);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/^pending approval: change request (cr-[0-9a-f]{12}) needs /);
    const id = /(cr-[0-9a-f]{12})/.exec(asked.stdout)![1]!;
    expect((await readControlPlaneState(env.t.db)).applyMode).toBe('dry_run');

    const self = await cliAs('manager')(['change', 'approve', id, '--role', 'manager']);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/manager-user/);
    const owner = await cliAs('owner')(['change', 'approve', id, '--role', 'owner']);
    expect(owner).toMatchObject({ code: 0, stdout: expect.stringContaining('pending approval') });
    const riskOfficer = await cliAs('risk_officer')(['change', 'approve', id, '--role', 'risk_officer']);
    expect(riskOfficer).toMatchObject({ code: 0, stdout: expect.stringMatching(/: (approved|applied)\n/) });
    await waitFor('apply mode testnet', async () =>
      (await readControlPlaneState(env.t.db)).applyMode === 'testnet' ? true : undefined,
    );
    const shown = await cliAs('analyst')(['change', 'show', id]);
    expect(shown.stdout).toContain('loosens   control_plane applyMode: dry_run → testnet');
  });

  it('`warden heimdall set` and `warden approvers add`: stricter applies now, prod use on and a new approver wait', async () => {
    const stricter = await cliAs('risk_officer')(['heimdall', 'set', 'WHOLESALE_OFFER', '--min-trials', '100']);
    expect(stricter).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once/) });
    expect(stricter.stdout).toContain('minSandboxTrials 75 → 100: stricter (tightens)');
    const prodUse = await cliAs('risk_officer')(['heimdall', 'set', 'WHOLESALE_OFFER', '--prod-use', 'true']);
    expect(prodUse).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^pending approval: .* needs risk_officer \+ manager/),
    });
    expect((await as('analyst', 'GET', '/policy')).body.heimdall.WHOLESALE_OFFER).toMatchObject({
      minSandboxTrials: 100,
      prodUseEnabled: false,
    });
    const fresh = await cliAs('risk_officer')(['heimdall', 'set', 'NEW_DOMAIN', '--prod-use', 'false']);
    expect(fresh).toMatchObject({ code: 2, stderr: expect.stringContaining('NEW_DOMAIN has no Heimdall policy yet') });
    const approver = await cliAs('manager')(['approvers', 'add', 'tech_lead', 'alice']);
    expect(approver).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pending approval: /) });
    expect((await as('analyst', 'GET', '/policy')).body.approvers.tech_lead).toEqual([]);
  });

  it('`warden policy apply` of a mixed file: the tightening part applies now, the loosening part opens one request', async () => {
    const at = file(
      'mixed.yaml',
      [
        'risk:',
        '  RETAIL: { maxDailyLoss: 100, maxDailyExposure: 1000, maxOpenRisk: null, maxActionsPerDay: null, enabled: true }',
        'engines:',
        '  CAPITAL: { executionClass: OBSERVE_ONLY, strategyRequired: true, recommendationRequired: true }',
        '',
      ].join('\n'),
    );
    const plan = await cliAs('analyst')(['policy', 'plan', '-f', at]);
    expect(plan.stdout).toMatch(/applies now \(tightens\):\n {2}execution_policy CAPITAL/);
    expect(plan.stdout).toMatch(/needs approval \(loosens\):\n {2}risk_policy RETAIL: new/);
    expect(plan.stdout).toMatch(/^replay .* UTC: \d+ deals, \d+ commands/m);
    const applied = await cliAs('risk_officer')(['policy', 'apply', '-f', at, '--json']);
    expect(applied.code).toBe(0);
    const answer = JSON.parse(applied.stdout);
    expect(answer.appliedNow).toMatchObject({ applied: true, changes: [{ target: 'CAPITAL', direction: 'tighten' }] });
    expect(answer.changeRequest).toMatchObject({
      status: 'pending',
      changes: [{ target: 'RETAIL', direction: 'loosen' }],
    });
    expect(await readExecutionPolicy(env.t.db, 'CAPITAL')).toMatchObject({ executionClass: 'OBSERVE_ONLY' });
    // The loosening part waits: RETAIL has no risk policy until others approve.
    expect((await listRiskPolicies(env.t.db)).map((p) => p.engine)).not.toContain('RETAIL');
  });
});
