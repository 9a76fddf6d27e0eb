import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotificationActivities, type Webhook, WebhookUnavailableError } from '../../activities/notifications';
import { listAuditEvents, recordAuditEvent } from '../../src/db/audit.repository';
import { listNotifications } from '../../src/db/notifications.repository';
import type { AuditKindName } from '../../src/domain/audit/kinds';
import { ErrorType } from '../../src/domain/shared/errors';
import { createTestDatabase, type TestDatabase } from '../helpers';

// A real webhook receiver on a local port; each test says how it answers.
describe('notification activities on PostgreSQL', () => {
  let t: TestDatabase;
  let server: Server;
  let ops: Webhook;
  let pager: Webhook;
  const received: { path: string; body: unknown; raw: string; headers: IncomingMessage['headers'] }[] = [];
  let answer: (res: ServerResponse) => void;

  beforeAll(async () => {
    t = await createTestDatabase();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(body), raw: body, headers: req.headers });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ops = { name: 'ops', url: `${base}/ops` };
    pager = { name: 'pager', url: `${base}/pager` };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t.drop();
  });
  beforeEach(() => {
    received.length = 0;
    answer = (res) => res.writeHead(200).end();
  });
  // The audit log is append-only: only the queue is cleared.
  afterEach(async () => {
    await t.db.deleteFrom('notification_delivery').execute();
    await t.db.deleteFrom('notification').execute();
  });

  const activities = (webhooks: readonly Webhook[] = [ops, pager]) =>
    createNotificationActivities({ db: t.db, webhooks, environment: 'staging', webhookTimeoutMs: 500 });
  // Failed attempts are expected here: keep the activity logger quiet.
  const quiet = new DefaultLogger('ERROR');
  const deliver = (deliveryId: string, webhooks: readonly Webhook[] = [ops, pager]) =>
    new MockActivityEnvironment(undefined, { logger: quiet }).run(activities(webhooks).deliverNotification, {
      deliveryId,
    });
  const claim = (
    webhooks: readonly Webhook[] = [ops, pager],
    input: Partial<{ perWebhook: number; inFlight: string[]; skipWebhooks: string[] }> = {},
  ) => activities(webhooks).claimPendingDeliveries({ perWebhook: 10, inFlight: [], skipWebhooks: [], ...input });
  const killSwitch = (reason: string) =>
    recordAuditEvent(t.db, {
      actor: 'dana',
      kind: 'control_plane.kill_switch_engaged',
      subject: 'control-plane',
      details: { change: { source: 'operator', reason } },
    });
  /** Deliveries signed with the secret a receiver shares with Warden. */
  const SECRET = `whsec_${Buffer.from('a receiver and warden share this secret').toString('base64')}`;
  const signingActivities = () =>
    createNotificationActivities({ db: t.db, webhooks: [ops], environment: 'staging', webhookSecret: SECRET });
  /** The Standard Webhooks headers a delivery arrived with, as a receiver's library takes them. */
  const signedHeaders = (r: (typeof received)[number]) => ({
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
  const deliveries = async () =>
    (await listNotifications(t.db)).flatMap((n) =>
      n.deliveries.map((d) => ({ webhook: d.webhook, status: d.status, attempts: d.attempts, lastError: d.lastError })),
    );

  it('claims route each new notification to every configured webhook once, then hand out the pending ones', async () => {
    await killSwitch('drill 1');
    await killSwitch('drill 2');
    const first = await claim();
    expect(first.map((d) => d.webhook)).toEqual(['ops', 'pager', 'ops', 'pager']);
    // Claiming again routes nothing new: the same four are handed out, none twice.
    expect(await claim()).toEqual(first);
    expect(await claim(undefined, { perWebhook: 1, skipWebhooks: ['pager'] })).toEqual([first[0]]);
    expect(await claim(undefined, { inFlight: first.map((d) => d.deliveryId) })).toEqual([]);
    expect(await deliveries()).toHaveLength(4);
  });

  it('without webhooks a notification is recorded and routed to nobody', async () => {
    await killSwitch('drill');
    expect(await claim([])).toEqual([]);
    expect(await listNotifications(t.db)).toMatchObject([
      { kind: 'kill_switch_engaged', routed: true, deliveries: [] },
    ]);
  });

  it('delivers to the right webhook with the environment; a retry after success POSTs nothing', async () => {
    await killSwitch('drill');
    const [toOps, toPager] = await claim();
    answer = (res) => res.writeHead(202).end();
    await expect(deliver(toPager!.deliveryId)).resolves.toEqual({ status: 'delivered' });
    await expect(deliver(toPager!.deliveryId)).resolves.toEqual({ status: 'already_settled' });
    expect(
      received.map((r) => [r.path, r.headers['user-agent'], (r.body as { environment: string }).environment]),
    ).toEqual([['/pager', 'warden-notifications', 'staging']]);
    expect(await deliveries()).toEqual([
      { webhook: 'ops', status: 'pending', attempts: 0, lastError: null },
      { webhook: 'pager', status: 'delivered', attempts: 1, lastError: null },
    ]);
    expect(await claim()).toEqual([toOps]);
  });

  it('signs each body with Standard Webhooks headers a receiver verifies; the id stays across retries', async () => {
    const signing = signingActivities();
    await killSwitch('signed');
    const [delivery] = await signing.claimPendingDeliveries({ perWebhook: 10, inFlight: [], skipWebhooks: [] });
    answer = (res) => res.writeHead(503).end();
    const run = () =>
      new MockActivityEnvironment(undefined, { logger: quiet }).run(signing.deliverNotification, {
        deliveryId: delivery!.deliveryId,
      });
    await expect(run()).rejects.toBeInstanceOf(WebhookUnavailableError);
    answer = (res) => res.writeHead(200).end();
    expect(await run()).toEqual({ status: 'delivered' });
    const [first, second] = received;
    const receiver = new StandardWebhook(SECRET);
    expect(receiver.verify(second!.raw, signedHeaders(second!))).toMatchObject({ kind: 'kill_switch_engaged' });
    expect(signedHeaders(first!)['webhook-id']).toBe(signedHeaders(second!)['webhook-id']);
    // A changed body, or another secret, does not verify.
    expect(() => receiver.verify(second!.raw.replace('signed', 'forged'), signedHeaders(second!))).toThrow();
    const other = new StandardWebhook(`whsec_${Buffer.from('someone else entirely, not warden').toString('base64')}`);
    expect(() => other.verify(second!.raw, signedHeaders(second!))).toThrow();
  });

  it('every kind an operator is told about reaches the webhook signed: go-live, live mode, a demotion or pause, each approval waiting', async () => {
    const signing = signingActivities();
    const events: [AuditKindName, string, Record<string, unknown>][] = [
      ['control_plane.go_live_set', 'go_live_changed', { change: { enabled: true, reason: 'launch' } }],
      ['control_plane.apply_mode_set', 'apply_mode_live', { change: { mode: 'live', reason: 'cutover' } }],
      ['strategy.demoted', 'strategy_demoted', { from: 'L3', to: 'L2', reason: 'drift', by: 'drift' }],
      ['strategy.paused', 'strategy_paused', { reason: 'drift beyond 50%' }],
      [
        'change_request.opened',
        'change_request_waiting',
        { required: [{ roles: ['manager'] }], needs: 'manager', expiresAt: '2026-12-04T12:00:00Z', reason: 'cap' },
      ],
      [
        'control_plane.kill_switch_release_approved',
        'kill_switch_release_waiting',
        { change: { role: 'manager' }, outcome: { detail: '1 of 2' } },
      ],
      [
        'approval.waiting',
        'approval_waiting',
        { what: 'Command c-1 (SET_DRUM)', roles: ['tech_lead'], deadline: '2026-12-04T12:00:00Z' },
      ],
    ];
    for (const [kind, , details] of events)
      await recordAuditEvent(t.db, { actor: 'dana', kind, subject: 'subject:x', details });
    const claimed = await signing.claimPendingDeliveries({ perWebhook: 50, inFlight: [], skipWebhooks: [] });
    for (const { deliveryId } of claimed)
      expect(
        await new MockActivityEnvironment(undefined, { logger: quiet }).run(signing.deliverNotification, {
          deliveryId,
        }),
      ).toEqual({ status: 'delivered' });
    const receiver = new StandardWebhook(SECRET);
    const verified = received.map((r) => receiver.verify(r.raw, signedHeaders(r)) as { kind: string });
    expect(verified.map((body) => body.kind).sort()).toEqual(events.map(([, kind]) => kind).sort());
  });

  it('a 503 is retryable and counted; the next attempt delivers', async () => {
    await killSwitch('drill');
    const [toOps] = await claim([ops]);
    answer = (res) => res.writeHead(503).end('maintenance');
    const unavailable = await deliver(toOps!.deliveryId, [ops]).catch((error: unknown) => error);
    expect(unavailable).toBeInstanceOf(WebhookUnavailableError);
    expect(unavailable).toMatchObject({
      name: ErrorType.WebhookUnavailable,
      message: 'webhook ops answered HTTP 503: maintenance',
    });
    answer = (res) => res.writeHead(200).end();
    await expect(deliver(toOps!.deliveryId, [ops])).resolves.toEqual({ status: 'delivered' });
    expect(received).toHaveLength(2);
    expect(await deliveries()).toEqual([
      { webhook: 'ops', status: 'delivered', attempts: 2, lastError: 'webhook ops answered HTTP 503: maintenance' },
    ]);
  });

  it('a refusal is non-retryable; markDeliveryFailed then fails it once, audited, and nothing is POSTed again', async () => {
    await killSwitch('drill');
    const [toOps] = await claim([ops]);
    answer = (res) => res.writeHead(410).end('gone');
    const refused = await deliver(toOps!.deliveryId, [ops]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({
      type: ErrorType.WebhookRejected,
      nonRetryable: true,
      message: 'webhook ops answered HTTP 410: gone',
    });

    const before = (await listAuditEvents(t.db, { kind: 'notification.delivery_failed' })).length;
    await activities([ops]).markDeliveryFailed({
      deliveryId: toOps!.deliveryId,
      error: 'webhook ops answered HTTP 410: gone',
    });
    await activities([ops]).markDeliveryFailed({ deliveryId: toOps!.deliveryId, error: 'again' });
    const failures = await listAuditEvents(t.db, { kind: 'notification.delivery_failed' });
    expect(failures).toHaveLength(before + 1);
    expect(failures[0]).toMatchObject({
      actor: 'notification-dispatch',
      details: {
        deliveryId: toOps!.deliveryId,
        webhook: 'ops',
        attempts: 1,
        error: 'webhook ops answered HTTP 410: gone',
      },
    });

    await expect(deliver(toOps!.deliveryId, [ops])).resolves.toEqual({ status: 'already_settled' });
    expect(received).toHaveLength(1);
    expect(await deliveries()).toEqual([
      { webhook: 'ops', status: 'failed', attempts: 1, lastError: 'webhook ops answered HTTP 410: gone' },
    ]);
    expect(await claim([ops])).toEqual([]);
  });

  it('an unknown delivery is refused as invalid input, without a POST or a write', async () => {
    const auditBefore = (await listAuditEvents(t.db)).length;
    const missing = await deliver('999999').catch((error: unknown) => error);
    expect(missing).toMatchObject({
      type: ErrorType.InvalidInput,
      nonRetryable: true,
      message: 'no notification delivery 999999',
    });
    expect(received).toEqual([]);
    await activities().markDeliveryFailed({ deliveryId: '999999', error: 'x' });
    expect(await listAuditEvents(t.db)).toHaveLength(auditBefore);
  });

  it('a malformed delivery id is refused as invalid input naming the field, before any SQL', async () => {
    const auditBefore = (await listAuditEvents(t.db)).length;
    for (const deliveryId of ['abc', '', '-1', '1.5', '99999999999999999999']) {
      const refused = await deliver(deliveryId).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ApplicationFailure);
      expect(refused).toMatchObject({ type: ErrorType.InvalidInput, nonRetryable: true });
      expect((refused as Error).message).toMatch(/^invalid deliverNotification input: deliveryId: /);
    }
    await expect(activities().markDeliveryFailed({ deliveryId: 'abc', error: 'x' })).rejects.toMatchObject({
      type: ErrorType.InvalidInput,
      nonRetryable: true,
      message: expect.stringMatching(/^invalid markDeliveryFailed input: deliveryId: /),
    });
    expect(received).toEqual([]);
    expect(await listAuditEvents(t.db)).toHaveLength(auditBefore);
  });
});
