import { describe, expect, it, vi } from 'vitest';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readExecutionPolicy } from '../../src/db/execution-policies.repository';
import { readPosition } from '../../src/db/positions.repository';
import { useApiServer } from './api-server';

// Engine execution policies and positions through the operator API, audited. A policy change is a change
// request (a worker runs it): a stricter policy applies at once for any write role.
describe('execution policies and positions through the API', () => {
  const { env, as } = useApiServer({ label: 'policies-api', worker: true, namespace: 'warden-policies-api-e2e' });
  const sandbox = { executionClass: 'SANDBOX_EXEC', strategyRequired: true, recommendationRequired: false };

  it('a risk officer tightens an engine policy at once; an analyst may not; bad input names the field and changes nothing', async () => {
    expect(
      await as('analyst', 'POST', '/engines/CAPITAL/execution-policy', { ...sandbox, reason: 'lab' }),
    ).toMatchObject({ status: 403 });
    expect(
      await as('risk_officer', 'POST', '/engines/CAPITAL/execution-policy', { ...sandbox, reason: 'a\u0000b' }),
    ).toMatchObject({ status: 400, body: { message: expect.stringContaining('reason') } });
    expect(await readExecutionPolicy(env.t.db, 'CAPITAL')).toMatchObject({ executionClass: 'PROD_EXEC' });

    const set = await as('risk_officer', 'POST', '/engines/CAPITAL/execution-policy', { ...sandbox, reason: 'lab' });
    expect(set).toMatchObject({
      status: 200,
      body: {
        engine: 'CAPITAL',
        executionClass: 'SANDBOX_EXEC',
        strategyRequired: true,
        updatedBy: 'risk_officer-user',
        changeRequest: { applied: true, status: 'applied' },
      },
    });
    expect((await as('analyst', 'GET', '/execution-policies')).body).toContainEqual(
      expect.objectContaining({ engine: 'CAPITAL', executionClass: 'SANDBOX_EXEC' }),
    );
    expect(await listAuditEvents(env.t.db, { kind: 'execution_policy.set' })).toEqual([
      expect.objectContaining({
        actor: 'risk_officer-user',
        details: expect.objectContaining({ before: expect.objectContaining({ executionClass: 'PROD_EXEC' }) }),
      }),
    ]);
  });

  it('a risk officer reconciles a position, audited with who and why (away from zero: once another approves)', async () => {
    const body = {
      scope: 'strategy',
      scopeId: 'mr-1',
      symbol: 'BTCUSDT',
      quantity: 250.5,
      reason: 'exchange statement',
    };
    expect(await as('engineer', 'POST', '/positions', body)).toMatchObject({ status: 403 });
    const opened = await as('risk_officer', 'POST', '/positions', body);
    expect(opened).toMatchObject({
      status: 202,
      body: { changeRequest: { status: 'pending', changes: [{ kind: 'position', target: 'strategy:mr-1:BTCUSDT' }] } },
    });
    const id = opened.body.changeRequest.changeRequestId as string;
    for (const role of ['manager', 'owner'] as const)
      expect(await as(role, 'POST', `/change-requests/${id}/approve`, {})).toMatchObject({ status: 200 });
    await vi.waitFor(
      async () =>
        expect(await readPosition(env.t.db, { scope: 'strategy', scopeId: 'mr-1', symbol: 'BTCUSDT' })).toBe(250.5),
      { timeout: 15_000, interval: 200 },
    );
    expect((await as('auditor', 'GET', '/positions?scope=strategy')).body).toEqual([
      expect.objectContaining({ scopeId: 'mr-1', quantity: 250.5 }),
    ]);
    expect(await listAuditEvents(env.t.db, { kind: 'position.reconciled' })).toEqual([
      expect.objectContaining({
        actor: 'risk_officer-user',
        details: expect.objectContaining({ before: 0, after: 250.5, changeRequestId: id }),
      }),
    ]);
  });
});
