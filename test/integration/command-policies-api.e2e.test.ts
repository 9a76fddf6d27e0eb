import { describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../src/db/audit.repository';
import { commandGatePolicy } from '../../src/db/command-policies.repository';
import { useApiServer } from './api-server';

// What a command type is, read and changed through the API: a change request (a worker runs it), as the
// caller, audited. Towards OBSERVE_ONLY only tightens, so it applies at once for any write role.
describe('command policies through the operator API', () => {
  const { env, as } = useApiServer({
    label: 'command-policies',
    worker: true,
    namespace: 'warden-command-policies-e2e',
  });

  it('a write role tightens a class at once (audited, as the caller); read roles are refused; bad input names the field', async () => {
    expect((await commandGatePolicy(env.t.db, 'SET_DRUM')).executionClass).toBe('PROD_EXEC');
    const body = { executionClass: 'OBSERVE_ONLY', reason: 'drum sensor only' };
    expect(await as('analyst', 'POST', '/command-policies/SET_DRUM', body)).toMatchObject({ status: 403 });
    expect(await as('auditor', 'POST', '/command-policies/SET_DRUM', body)).toMatchObject({ status: 403 });
    expect(
      await as('risk_officer', 'POST', '/command-policies/SET_DRUM', { ...body, executionClass: 'YOLO' }),
    ).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.executionClass: /) } });
    expect(
      await as('risk_officer', 'POST', '/command-policies/SET_DRUM', { ...body, reason: 'bad\u0000byte' }),
    ).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.reason: /) } });
    expect(await as('risk_officer', 'POST', '/command-policies/set_drum', body)).toMatchObject({ status: 400 });
    expect((await commandGatePolicy(env.t.db, 'SET_DRUM')).executionClass).toBe('PROD_EXEC');

    expect(await as('risk_officer', 'POST', '/command-policies/SET_DRUM', body)).toMatchObject({
      status: 200,
      body: {
        commandType: 'SET_DRUM',
        executionClass: 'OBSERVE_ONLY',
        updatedBy: 'risk_officer-user',
        changeRequest: { applied: true, message: expect.stringMatching(/^applied at once/) },
      },
    });
    expect(await as('analyst', 'GET', '/command-policies')).toMatchObject({
      status: 200,
      body: [{ commandType: 'SET_DRUM', executionClass: 'OBSERVE_ONLY' }],
    });
    expect((await commandGatePolicy(env.t.db, 'SET_DRUM')).executionClass).toBe('OBSERVE_ONLY');
    expect(await listAuditEvents(env.t.db, { kind: 'command_policy.set' })).toMatchObject([
      {
        actor: 'risk_officer-user',
        subject: 'command_type:SET_DRUM',
        details: { before: { executionClass: 'PROD_EXEC', default: true }, after: { executionClass: 'OBSERVE_ONLY' } },
      },
    ]);
  });
});
