import { describe, expect, it } from 'vitest';
import { readGovernanceState } from '../../src/db/autonomy.repository';
import { insertBreakerEvent, setPausedCommandTypes } from '../../src/db/breakers.repository';
import { findToken } from '../../src/db/execution-tokens.repository';
import { readPosition } from '../../src/db/positions.repository';
import { getStrategy } from '../../src/db/strategy.repository';
import { wardenCli } from '../support/processes';
import { useApiServer, waitFor } from './api-server';

// The last operational paths where one person could loosen what governs execution (invariant 8): issuing an
// execution token, lifting a strategy's pause, resolving a breaker event that paused a command type, moving a
// position away from zero. Each is a change request its requester cannot apply alone; the tightening
// counterpart (revoke, pause, an alert-only event, towards zero) applies at once.
describe('operational loosening as change requests', () => {
  const { env, keys, as } = useApiServer({ label: 'ops-changes', worker: true, namespace: 'warden-ops-e2e' });
  const cliAs = (role: keyof typeof keys) =>
    wardenCli({ WARDEN_API_URL: `http://127.0.0.1:${env.api.port}`, WARDEN_API_KEY: keys[role] });
  const crId = (text: string) => /(cr-[0-9a-f]{12})/.exec(text)![1]!;
  const approve = (role: keyof typeof keys, id: string) => as(role, 'POST', `/change-requests/${id}/approve`, {});

  it('`warden tokens issue` waits for a risk officer and a manager other than its requester; revoking applies at once', async () => {
    // Registering at L0 only tightens: applied at once.
    const registered = await as('risk_officer', 'POST', '/operations/strategy.set', { id: 'tok-s1', settings: {} });
    expect(registered).toMatchObject({ status: 200 });
    const issued = await cliAs('risk_officer')([
      'tokens',
      'issue',
      '--strategy',
      'tok-s1',
      '--max-notional',
      '100',
      '--json',
    ]);
    expect(issued.code).toBe(0);
    const answer = JSON.parse(issued.stdout);
    expect(answer).toMatchObject({
      status: 'pending',
      applied: false,
      message: expect.stringMatching(/^pending approval: change request /),
    });
    expect(await findToken(env.t.db, answer.tokenId)).toBeUndefined();
    expect(await approve('risk_officer', answer.changeRequestId)).toMatchObject({ status: 409 });
    expect(await approve('manager', answer.changeRequestId)).toMatchObject({
      status: 200,
      body: { status: 'pending' },
    });
    expect(await approve('owner', answer.changeRequestId)).toMatchObject({ status: 200 });
    const token = await waitFor('token issued', async () => await findToken(env.t.db, answer.tokenId));
    expect(token).toMatchObject({ strategyId: 'tok-s1', maxNotional: 100, revokedAt: null });
    const revoked = await cliAs('operator')(['tokens', 'revoke', answer.tokenId]);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringContaining('revoked 1 token(s)') });
  });

  it('`warden strategy pause` applies at once; `resume` waits for someone else', async () => {
    await as('risk_officer', 'POST', '/operations/strategy.set', { id: 'pause-s1', settings: {} });
    const paused = await cliAs('risk_officer')(['strategy', 'pause', 'pause-s1', '--reason', 'drift']);
    expect(paused).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once/) });
    expect(await getStrategy(env.t.db, 'pause-s1')).toMatchObject({ paused: true, pausedReason: 'drift' });
    const resumed = await cliAs('risk_officer')(['strategy', 'resume', 'pause-s1', '--reason', 'fixed']);
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pending approval: change request /) });
    expect(await getStrategy(env.t.db, 'pause-s1')).toMatchObject({ paused: true });
    const id = crId(resumed.stdout);
    expect(await approve('risk_officer', id)).toMatchObject({ status: 409 });
    expect(await approve('manager', id)).toMatchObject({ status: 200 });
    await waitFor('pause lifted', async () => ((await getStrategy(env.t.db, 'pause-s1'))?.paused ? undefined : true));
  });

  it('`warden breakers resolve`: an event that paused a command type waits for approval; an alert closes at once', async () => {
    const trip = { rule: 'deploy-failures', alertSeverity: 'high' as const, observed: 3, detail: 'failures > 2' };
    const pauseId = await insertBreakerEvent(
      env.t.db,
      { ...trip, action: 'pause_command_type', commandType: 'DEPLOY' },
      new Date(),
    );
    await setPausedCommandTypes(env.t.db, ['DEPLOY'], new Date());
    const asked = await cliAs('risk_officer')(['breakers', 'resolve', pauseId, '--reason', 'rolled back']);
    expect(asked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pending approval: change request /) });
    expect((await readGovernanceState(env.t.db)).pausedCommandTypes).toContain('DEPLOY');
    const id = crId(asked.stdout);
    expect(await approve('risk_officer', id)).toMatchObject({ status: 409 });
    expect(await approve('manager', id)).toMatchObject({ status: 200 });
    await waitFor('DEPLOY unpaused', async () =>
      (await readGovernanceState(env.t.db)).pausedCommandTypes.includes('DEPLOY') ? undefined : true,
    );

    const alertId = await insertBreakerEvent(
      env.t.db,
      { ...trip, action: 'alert_only', commandType: null },
      new Date(),
    );
    const closed = await cliAs('risk_officer')(['breakers', 'resolve', alertId, '--reason', 'seen']);
    expect(closed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once/) });
  });

  it('`POST /positions`: away from zero waits for a risk officer and a manager; towards zero applies at once', async () => {
    const key = { scope: 'strategy', scopeId: 'pos-s1', symbol: 'BTCUSDT' } as const;
    const opened = await as('risk_officer', 'POST', '/positions', { ...key, quantity: 100, reason: 'broker says' });
    expect(opened).toMatchObject({ status: 202, body: { changeRequest: { status: 'pending', applied: false } } });
    expect(await readPosition(env.t.db, key)).toBe(0);
    const id = opened.body.changeRequest.changeRequestId as string;
    expect(await approve('risk_officer', id)).toMatchObject({ status: 409 });
    expect(await approve('manager', id)).toMatchObject({ status: 200, body: { status: 'pending' } });
    expect(await approve('owner', id)).toMatchObject({ status: 200 });
    await waitFor('position 100', async () => ((await readPosition(env.t.db, key)) === 100 ? true : undefined));

    const trimmed = await cliAs('risk_officer')([
      'positions',
      'set',
      '--strategy',
      'pos-s1',
      '--symbol',
      'BTCUSDT',
      '--quantity',
      '40',
      '--reason',
      'partial fill',
    ]);
    expect(trimmed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied at once/) });
    expect(await readPosition(env.t.db, key)).toBe(40);
  });
});
