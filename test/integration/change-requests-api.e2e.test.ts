import { describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../src/db/audit.repository';
import { listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import { policyChangeWorkflowId } from '../../workflows/names';
import { useApiServer, waitFor } from './api-server';

// Change requests through the API, in production mode (signed approvals): the requester is the key's
// identity, the API signs each decision for its exact target. The tests share one server, in order.
describe('change requests through the API', () => {
  const { env, as, temporal } = useApiServer({
    label: 'change-requests-api',
    worker: true,
    namespace: 'warden-change-requests-e2e',
  });
  const RISK = { maxDailyLoss: 500, maxDailyExposure: 10_000, maxOpenRisk: 2_000, maxActionsPerDay: 50, enabled: true };
  const cap = (maxDailyLoss: number) => ({ kind: 'risk_policy', target: 'RETAIL', after: { ...RISK, maxDailyLoss } });
  const stored = async () => (await listRiskPolicies(env.t.db)).find((p) => p.engine === 'RETAIL')?.maxDailyLoss;
  const settled = (id: string, status: string) =>
    waitFor(`change request ${id} ${status}`, async () => {
      const { body } = await as('analyst', 'GET', `/change-requests/${id}`);
      return body.status === status ? body : undefined;
    });

  it('a tightening applies at once for any write role, with its audit', async () => {
    await upsertRiskPolicy(env.t.db, { engine: 'RETAIL', ...RISK }, 'setup');
    const opened = await as('operator', 'POST', '/change-requests', { changes: [cap(400)], reason: 'risk review' });
    expect(opened).toMatchObject({
      status: 201,
      body: {
        status: 'applied',
        requestedBy: { name: 'operator-user' },
        required: [],
        changes: [{ before: { maxDailyLoss: 500 }, after: { maxDailyLoss: 400 }, direction: 'tighten' }],
      },
    });
    expect(await stored()).toBe(400);
    const policySet = await listAuditEvents(env.t.db, { kind: 'risk.policy_set' });
    expect(policySet[0]?.details).toMatchObject({ changeRequestId: opened.body.id });
  });

  it('refuses bad input naming the field, and keys without the permission', async () => {
    const bad = await as('operator', 'POST', '/change-requests', {
      changes: [{ kind: 'risk_policy', target: 'RETAIL', after: { ...RISK, maxDailyLoss: -5 } }],
      reason: 'typo',
    });
    expect(bad).toMatchObject({
      status: 409,
      body: { message: expect.stringMatching(/changes\.0\.after\.maxDailyLoss/) },
    });
    expect(await as('analyst', 'POST', '/change-requests', { changes: [cap(1)], reason: 'x' })).toMatchObject({
      status: 403,
    });
    expect(await as('operator', 'POST', '/change-requests', { changes: [], reason: 'x' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^body\.changes/) },
    });
    // A NUL or an overlong reason is refused at the boundary, naming the field; a 1 MB body before parsing.
    for (const reason of ['a\u0000b', 'x'.repeat(10_000)])
      expect(await as('operator', 'POST', '/change-requests', { changes: [cap(2)], reason })).toMatchObject({
        status: 400,
        body: { message: expect.stringMatching(/^body\.reason/) },
      });
    expect(
      await as('operator', 'POST', '/change-requests', { changes: [cap(2)], reason: 'x'.repeat(1_000_000) }),
    ).toMatchObject({ status: 413, body: { message: expect.stringMatching(/^body: .*too large/) } });
    expect(await stored()).not.toBe(2);
  });

  it('a loosening waits for others in the required roles: self-approval refused, applied after both approvals', async () => {
    const opened = await as('risk_officer', 'POST', '/change-requests', { changes: [cap(900)], reason: 'new season' });
    expect(opened).toMatchObject({
      status: 201,
      body: { status: 'pending', missing: [{ roles: ['risk_officer'] }, { roles: ['manager'] }] },
    });
    const { id } = opened.body as { id: string };
    expect(await stored()).toBe(400);

    const self = await as('risk_officer', 'POST', `/change-requests/${id}/approve`, {});
    expect(self).toMatchObject({ status: 409, body: { message: expect.stringMatching(/^actor: risk_officer-user/) } });
    expect(await as('analyst', 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({ status: 403 });

    // From the Temporal CLI without a signed token: refused in production, and audited.
    const raw = await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      policyChangeWorkflowId(id),
      '--name',
      'approveChange',
      '--input',
      JSON.stringify({ actor: 'manager-user', role: 'manager' }),
    );
    expect(raw.code).toBe(0);
    await waitFor('the raw approval refused', async () => {
      const { body } = await as('analyst', 'GET', `/change-requests/${id}`);
      return body.rejectedMessages === 1 ? body : undefined;
    });
    expect(await stored()).toBe(400);

    const first = await as('owner', 'POST', `/change-requests/${id}/approve`, { comment: 'as risk officer' });
    expect(first).toMatchObject({ status: 200, body: { status: 'pending', missing: [{ roles: ['manager'] }] } });
    expect(await stored()).toBe(400);
    const second = await as('manager', 'POST', `/change-requests/${id}/approve`, {});
    expect(second.status).toBe(200);
    await settled(id, 'applied');
    expect(await stored()).toBe(900);

    const listed = await as('auditor', 'GET', '/change-requests?status=applied');
    expect(listed.status).toBe(200);
    expect((listed.body as { id: string }[]).map((r) => r.id)).toContain(id);
  });

  it('an edit by its requester revokes approvals; a cancel by anyone else is refused', async () => {
    const opened = await as('risk_officer', 'POST', '/change-requests', { changes: [cap(1_200)], reason: 'peak' });
    const { id } = opened.body as { id: string };
    await as('manager', 'POST', `/change-requests/${id}/approve`, {});
    const edited = await as('risk_officer', 'POST', `/change-requests/${id}/edit`, { changes: [cap(1_100)] });
    expect(edited).toMatchObject({ status: 200, body: { revision: 2, approvals: [], status: 'pending' } });
    expect(await as('manager', 'POST', `/change-requests/${id}/cancel`, { reason: 'mine now' })).toMatchObject({
      status: 409,
    });
    const cancelled = await as('risk_officer', 'POST', `/change-requests/${id}/cancel`, { reason: 'not needed' });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    expect(await stored()).toBe(900);
  });
});
