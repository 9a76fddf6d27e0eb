import { describe, expect, it, vi } from 'vitest';
import { addApprover } from '../../src/db/autonomy.repository';
import { setCommandPolicy } from '../../src/db/command-policies.repository';
import { commandExecution } from '../../workflows/command-execution';
import { commandWorkflowId, CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { listRestrictions } from '../../src/db/watchdogs.repository';
import { markGoLivePlaybookCompleted, uniqueName } from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';
import { APPROVAL_KEYS, RECEIVER_SECRET, useApiServer, waitFor } from './api-server';

// Writes through the API act through workflows: a worker and the control plane run. The tests share that state, in order.
describe('operator API writes against a real server', () => {
  const { env, taskQueue, temporal, call, as, refusedChanges } = useApiServer({ label: 'api-writes', worker: true });

  it('kill switch: engaged at once by a write role; release refused for non-approvers and during the cooldown, accepted after; every attempt audited', async () => {
    const engaged = await as('operator', 'POST', '/control-plane/kill-switch/engage', { reason: 'drill' });
    expect(engaged).toMatchObject({
      status: 200,
      body: {
        outcome: { status: 'applied' },
        state: { killSwitchEngaged: true, killSwitchEngagedBy: 'operator-user' },
      },
    });
    expect(await as('operator', 'POST', '/control-plane/kill-switch/release', { reason: 'done' })).toMatchObject({
      status: 403,
    });
    expect(await as('analyst', 'POST', '/control-plane/kill-switch/release', { reason: 'done' })).toMatchObject({
      status: 403,
    });
    const early = await as('risk_officer', 'POST', '/control-plane/kill-switch/release', { reason: 'looks fine' });
    expect(early).toMatchObject({
      status: 409,
      body: { error: 'refused', message: expect.stringMatching(/^cooldown: /), state: { killSwitchEngaged: true } },
    });
    await new Promise((r) => setTimeout(r, 2100));
    const released = await as('risk_officer', 'POST', '/control-plane/kill-switch/release', { reason: 'drill over' });
    expect(released).toMatchObject({
      status: 200,
      body: { outcome: { status: 'applied' }, state: { killSwitchEngaged: false } },
    });

    const refused = (await listAuditEvents(env.t.db, { kind: 'api.request_refused', limit: 1000 })).filter(
      (e) => e.subject === 'route:releaseKillSwitch' && !JSON.stringify(e.details).includes('probe'),
    );
    expect(refused.map((e) => e.actor)).toEqual(expect.arrayContaining(['operator-user', 'analyst-user']));
    expect(await refusedChanges(/^cooldown: /)).toHaveLength(1);
    const [release] = await listAuditEvents(env.t.db, { kind: 'control_plane.kill_switch_released' });
    // Signed mode: the API signed the vote for the authenticated identity; the trail keeps no token.
    expect(release).toMatchObject({
      actor: 'risk_officer-user',
      details: { change: { role: 'risk_officer', token: '(redacted)' } },
    });
  });

  it('production: with the real temporal CLI, a release vote without a token, with an expired, planted or stolen one is refused; a reference from the API counts once; history holds no JWS', async () => {
    await as('engineer', 'POST', '/control-plane/kill-switch/engage', { reason: 'signed-mode drill' });
    await new Promise((r) => setTimeout(r, 2100));
    const signal = (payload: object) =>
      temporal(
        'workflow',
        'signal',
        '--workflow-id',
        CONTROL_PLANE_WORKFLOW_ID,
        '--name',
        'releaseKillSwitch',
        '--input',
        JSON.stringify(payload),
      );
    const voter = { subject: 'risk_officer-user', roles: ['risk_officer' as const], environment: 'production' };
    const refusedWith = async (what: string, token: string | undefined, problem: RegExp) => {
      expect(
        await signal({ actor: 'risk_officer-user', role: 'risk_officer', reason: what, ...(token ? { token } : {}) }),
      ).toMatchObject({ code: 0 });
      await waitFor(`the ${what} refusal`, async () =>
        (await refusedChanges(problem)).length === 1 ? true : undefined,
      );
    };

    await refusedWith('unsigned', undefined, /^token: signed approvals are on/);
    const expired = await APPROVAL_KEYS.issue(env.t.db, {
      ...voter,
      audience: 'warden-control-plane:releaseKillSwitch',
      now: new Date(Date.now() - 3_600_000),
    });
    await refusedWith('expired', expired, /^token: expired at /);
    // A database writer plants a JWS under a reference: without the private key its signature does not hold.
    const planted = 'wtr_' + 'p'.repeat(43);
    await env.t.db
      .insertInto('approval_token')
      .values({
        reference: planted,
        jws: await testApprovalKeys().sign({ ...voter, audience: 'warden-control-plane:releaseKillSwitch' }),
        token_id: 'planted',
        subject: 'risk_officer-user',
        audience: 'warden-control-plane:releaseKillSwitch',
        expires_at: new Date(Date.now() + 60_000),
      })
      .execute();
    await refusedWith('planted', planted, /^token: signed by a key this environment does not know/);
    // Taken from another target: a decline vote's token does not release.
    const stolen = await as('risk_officer', 'POST', '/approval-tokens', {
      audience: 'warden-control-plane:declineKillSwitchRelease',
    });
    await refusedWith(
      'stolen',
      stolen.body.token,
      /^token: issued for warden-control-plane:declineKillSwitchRelease, not warden-control-plane:releaseKillSwitch$/,
    );
    expect(await readControlPlaneState(env.t.db)).toMatchObject({ killSwitchEngaged: true });

    expect(await as('risk_officer', 'POST', '/approval-tokens', { audience: 'release' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/audience: expected <workflowId>:<action>/) },
    });
    const issued = await as('risk_officer', 'POST', '/approval-tokens', {
      audience: 'warden-control-plane:releaseKillSwitch',
    });
    expect(issued).toMatchObject({
      status: 201,
      body: {
        token: expect.stringMatching(/^wtr_[A-Za-z0-9_-]{43}$/),
        audience: 'warden-control-plane:releaseKillSwitch',
        subject: 'risk_officer-user',
        roles: ['risk_officer'],
      },
    });
    expect(await signal({ actor: 'risk_officer-user', reason: 'signed', token: issued.body.token })).toMatchObject({
      code: 0,
    });
    await waitFor('the signed release', async () =>
      (await readControlPlaneState(env.t.db)).killSwitchEngaged ? undefined : true,
    );
    // Each token approves once.
    await as('engineer', 'POST', '/control-plane/kill-switch/engage', { reason: 'again' });
    await new Promise((r) => setTimeout(r, 2100));
    await refusedWith('replayed', issued.body.token, /^token: already used/);
    expect(await as('manager', 'POST', '/control-plane/kill-switch/release', { reason: 'reviewed' })).toMatchObject({
      status: 200,
      body: { state: { killSwitchEngaged: false } },
    });

    // Signals carried references only; the audit and /audit show neither references nor JWS.
    const payloads: string[] = [];
    const walk = (value: unknown): void => {
      if (value instanceof Uint8Array) payloads.push(Buffer.from(value).toString('utf8'));
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(walk);
    };
    walk(await env.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID).fetchHistory());
    const history = payloads.join('\n');
    expect(history).toContain(issued.body.token.slice(0, 12));
    expect(history).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
    const audit = await as('owner', 'GET', '/audit?limit=500');
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).not.toMatch(/wtr_|eyJ/);
    expect(JSON.stringify(await listAuditEvents(env.t.db, { limit: 1000 }))).not.toMatch(/wtr_|eyJ/);
  });

  it('Alertmanager: a wrong secret is 401; a firing kill_switch alert engages; pause restricts the engine; resolved changes nothing', async () => {
    const alert = (status: 'firing' | 'resolved', labels: Record<string, string>) => ({
      version: '4',
      status,
      receiver: 'warden',
      groupLabels: {},
      commonLabels: labels,
      alerts: [
        {
          status,
          labels: { alertname: 'CanaryFailing', ...labels },
          annotations: { summary: 'canary failing 3 times' },
          startsAt: new Date().toISOString(),
          fingerprint: 'abc123',
        },
      ],
    });
    const post = (body: unknown, secret = RECEIVER_SECRET, receiver = 'ops') =>
      call(env.api.port, 'POST', `/alerts/alertmanager?receiver=${receiver}`, {
        body,
        headers: { authorization: `Bearer ${secret}` },
      });
    expect(await post(alert('firing', { warden_action: 'kill_switch' }), 'wrong-secret-0123456789')).toMatchObject({
      status: 401,
    });
    expect(await post(alert('firing', { warden_action: 'kill_switch' }), RECEIVER_SECRET, 'nobody')).toMatchObject({
      status: 401,
    });
    expect(await readControlPlaneState(env.t.db)).toMatchObject({ killSwitchEngaged: false });

    expect(await post({ status: 'firing' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^body\.alerts: /) },
    });
    const fired = await post(alert('firing', { warden_action: 'kill_switch' }));
    expect(fired).toMatchObject({
      status: 200,
      body: { results: [{ alert: 'CanaryFailing', action: 'kill_switch', outcome: { status: 'applied' } }] },
    });
    const engaged = await readControlPlaneState(env.t.db);
    expect(engaged).toMatchObject({
      killSwitchEngaged: true,
      killSwitchSource: 'alertmanager',
      killSwitchEngagedBy: 'alertmanager:ops',
    });

    expect(
      await post(alert('firing', { warden_action: 'pause', engine: 'WHOLESALE', alertname: 'TripwireFired' })),
    ).toMatchObject({ status: 200, body: { results: [{ action: 'pause', engine: 'WHOLESALE' }] } });
    expect(await listRestrictions(env.t.db)).toEqual(
      expect.arrayContaining([expect.objectContaining({ engine: 'WHOLESALE', kind: 'pause', source: 'alertmanager' })]),
    );

    const resolved = await post(alert('resolved', { warden_action: 'kill_switch' }));
    expect(resolved).toMatchObject({ status: 200, body: { results: [{ status: 'resolved', action: 'recorded' }] } });
    expect(await readControlPlaneState(env.t.db)).toMatchObject({ killSwitchEngaged: true, version: engaged.version });
    expect(await listAuditEvents(env.t.db, { kind: 'alert.resolved' })).toHaveLength(1);
  });

  it('a command waiting for a human is approved through the API, signed for the caller, in the role the key maps to', async () => {
    await addApprover(env.t.db, 'tech_lead', 'engineer-user', 'test');
    // Go-live is still off here, and the worker serves no executor: an OBSERVE_ONLY type still asks for approval.
    await setCommandPolicy(env.t.db, {
      commandType: 'SET_DRUM',
      executionClass: 'OBSERVE_ONLY',
      actor: 'test',
      reason: 'approval path only',
    });
    const commandId = uniqueName('cmd');
    const handle = await env.client.workflow.start(commandExecution, {
      taskQueue,
      workflowId: commandWorkflowId(commandId),
      args: [{ commandId, commandType: 'SET_DRUM', params: {}, requestedBy: 'agent' }],
    });
    await waitFor('the command to wait', async () =>
      (await as('analyst', 'GET', `/commands/${commandId}`)).body.stage === 'awaiting_approval' ? true : undefined,
    );
    expect(await as('operator', 'POST', `/commands/${commandId}/approve`, { role: 'tech_lead' })).toMatchObject({
      status: 403,
      body: { message: 'role: acting as tech_lead needs the engineer role' },
    });
    // ops_lead is the operator's own role, but operator-user is not on the command's allowlist: refused by the workflow.
    expect(await as('operator', 'POST', `/commands/${commandId}/approve`, {})).toMatchObject({
      status: 409,
      body: { message: expect.stringMatching(/^the approve was refused/) },
    });
    const approved = await as('engineer', 'POST', `/commands/${commandId}/approve`, { comment: 'checked' });
    expect(approved).toMatchObject({
      status: 200,
      body: { decision: { kind: 'approve', approver: 'engineer-user', role: 'tech_lead' } },
    });
    expect(approved.body.decision.token).toBeUndefined();
    expect(await handle.result()).toMatchObject({
      status: 'dry_run',
      autonomous: false,
      executionClass: 'OBSERVE_ONLY',
    });
    expect(await as('engineer', 'POST', `/commands/${commandId}/approve`, {})).toMatchObject({ status: 409 });
  });

  it('the playbook through the API: steps are done as the caller, and refused (409) while health is RED', async () => {
    expect(await as('operator', 'POST', '/playbook/start', {})).toMatchObject({
      status: 201,
      body: { workflowId: 'go-live-playbook' },
    });
    expect(await as('operator', 'POST', '/playbook/start', {})).toMatchObject({ status: 409 });
    expect(
      await as('operator', 'POST', '/playbook/steps', { step: 'preflight', evidence: 'migrations applied' }),
    ).toMatchObject({ status: 200, body: { status: 'accepted', step: 'preflight' } });
    // The Alertmanager test left the kill switch engaged: health is RED, so only preflight could proceed.
    const refused = await as('operator', 'POST', '/playbook/steps', {
      step: 'risk_policies_reviewed',
      evidence: 'caps checked',
    });
    expect(refused).toMatchObject({ status: 409, body: { error: 'refused', message: expect.stringMatching(/RED/) } });
    expect(await as('operator', 'POST', '/playbook/steps', { step: 'sign_off', evidence: 'early' })).toMatchObject({
      status: 409,
      body: { message: expect.stringMatching(/out of order/) },
    });
    const playbook = await as('analyst', 'GET', '/playbook');
    expect(playbook).toMatchObject({
      status: 200,
      body: { status: 'in_progress', steps: [{ step: 'preflight', actor: 'operator-user' }] },
    });
    const review = await as('analyst', 'GET', '/review');
    expect(review.body.awaitingApproval.playbooks).toEqual([
      {
        id: 'go-live-playbook',
        startedBy: 'operator-user',
        startedAt: expect.any(String),
        stepsDone: 1,
        stepsTotal: 9,
        nextStep: 'risk_policies_reviewed',
      },
    ]);
  });

  it('go-live is refused before a playbook completed and accepted after', async () => {
    const refused = await as('owner', 'POST', '/control-plane/go-live', { enabled: true, reason: 'launch' });
    expect(refused).toMatchObject({
      status: 409,
      body: { message: expect.stringMatching(/^enabled: go-live needs a completed goLivePlaybook/) },
    });
    await markGoLivePlaybookCompleted(env.t.db);
    // Going live loosens: a change request (202) that applies once two others approve.
    const asked = await as('owner', 'POST', '/control-plane/go-live', { enabled: true, reason: 'launch' });
    expect(asked).toMatchObject({
      status: 202,
      body: { outcome: { status: 'pending' }, state: { goLiveEnabled: false }, changeRequest: { status: 'pending' } },
    });
    const id = asked.body.changeRequest.changeRequestId as string;
    expect(await as('manager', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({ status: 200 });
    expect(await as('risk_officer', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({ status: 200 });
    const event = await waitFor(
      'go-live on',
      async () => (await listAuditEvents(env.t.db, { kind: 'control_plane.go_live_set' }))[0],
    );
    expect(event.details).toMatchObject({ after: { goLiveEnabled: true }, authority: { changeRequestId: id } });
  });

  it('two runs of the tripwire asked in one millisecond both run (the fuzz at 1,000 found the second a 500)', async () => {
    // Only Date is frozen: timers, the worker and the server run as ever.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date() });
    try {
      const runs = await Promise.all([
        as('operator', 'POST', '/operations/tripwire.evaluate', {}),
        as('operator', 'POST', '/operations/tripwire.evaluate', {}),
      ]);
      expect(runs.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      vi.useRealTimers();
    }
  });
});
