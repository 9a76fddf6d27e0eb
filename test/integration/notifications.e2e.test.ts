import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { SAFE_GOVERNANCE_SETTINGS } from '../../src/config/index';
import { listAuditEvents, recordAuditEvent } from '../../src/db/audit.repository';
import { listNotifications, type NotificationView } from '../../src/db/notifications.repository';
import { NOTIFICATION_DISPATCH_WORKFLOW_ID, NOTIFICATION_DISPATCH_WORKFLOW_TYPE } from '../../workflows/names';
import type { NotificationPayload } from '../../src/domain/notifications/rules';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { notificationDispatchQuery, notificationsPendingSignal } from '../../workflows/messages';
import { serveCliApi } from '../support/processes';
import {
  createTestDatabase,
  devServerAddress,
  type RunningWorker,
  runDevServerWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

// Its own namespace: the control plane and the dispatcher are singletons per namespace.
const namespace = 'warden-notifications-e2e';

describe('notifications end to end', () => {
  let t: TestDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: RunningWorker | undefined;
  let receiver: Server;
  const taskQueue = uniqueName('notifications');
  const address = devServerAddress();

  // The receiver: `ops` turns away the first attempt of each notification with a 503 (every attempt while `opsDown`), then accepts; `gone` answers 404.
  const posts: { hook: string; status: number; body: NotificationPayload }[] = [];
  let opsDown = false;
  const accepted = (hook: string, id: string) =>
    posts.filter((p) => p.hook === hook && p.body.id === id && p.status === 200);

  async function startWorker(): Promise<void> {
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: warden,
        settings: {
          ...SAFE_GOVERNANCE_SETTINGS,
          webhooks: [
            { name: 'ops', url: `${base}/ops` },
            { name: 'gone', url: `${base}/gone` },
          ],
          environment: 'e2e',
        },
      }),
    });
  }
  async function stopWorker(): Promise<void> {
    await worker?.stop();
    worker = undefined;
  }
  const deliveries = async (id: string) =>
    ((await listNotifications(t.db)).find((n) => n.id === id) as NotificationView).deliveries.map((d) => [
      d.webhook,
      d.status,
      d.attempts,
    ]);

  beforeAll(async () => {
    t = await createTestDatabase();
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as NotificationPayload;
        const hook = req.url === '/ops' ? 'ops' : 'gone';
        const status =
          hook === 'gone' ? 404 : !opsDown && posts.some((p) => p.hook === 'ops' && p.body.id === body.id) ? 200 : 503;
        posts.push({ hook, status, body });
        res.writeHead(status).end(status === 200 ? 'ok' : 'not now');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    await startWorker();
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
  });

  afterAll(async () => {
    await stopWorker();
    await client?.connection.close();
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await t?.drop();
  });

  it('an engaged kill switch reaches `ops` once, after a retry; `gone` refuses it for good, which is audited', async () => {
    // Two deliveries per run, so this run continues as new after the kill switch's two.
    const first = await client.workflow.start(NOTIFICATION_DISPATCH_WORKFLOW_TYPE, {
      workflowId: NOTIFICATION_DISPATCH_WORKFLOW_ID,
      taskQueue,
      args: [{ deliveriesPerRun: 2 }],
    });
    await warden.ensureNotificationDispatch(); // idempotent: the same run goes on
    const dispatch = client.workflow.getHandle(NOTIFICATION_DISPATCH_WORKFLOW_ID);
    expect((await dispatch.describe()).runId).toBe(first.firstExecutionRunId);

    await warden.engageKillSwitch({ source: 'operator', actor: 'dana', reason: 'drill' });
    await warden.waitForControlPlane(1);
    await dispatch.signal(notificationsPendingSignal);
    const [notification] = await listNotifications(t.db);
    expect(notification).toMatchObject({
      kind: 'kill_switch_engaged',
      summary: 'Kill switch engaged by dana (operator): drill',
    });
    await expect
      .poll(() => deliveries(notification!.id), { timeout: 30_000 })
      .toEqual([
        ['gone', 'failed', 1],
        ['ops', 'delivered', 2],
      ]);

    const expected: NotificationPayload = {
      id: notification!.id,
      kind: 'kill_switch_engaged',
      subject: 'control-plane',
      summary: 'Kill switch engaged by dana (operator): drill',
      details: notification!.details,
      at: notification!.at,
      environment: 'e2e',
    };
    expect(notification!.details).toMatchObject({ change: { source: 'operator', reason: 'drill' } });
    expect(posts.filter((p) => p.body.id === notification!.id).map((p) => [p.hook, p.status])).toEqual(
      expect.arrayContaining([
        ['ops', 503],
        ['ops', 200],
        ['gone', 404],
      ]),
    );
    expect(posts.filter((p) => p.body.id === notification!.id)).toHaveLength(3);
    for (const post of posts) expect(post.body).toEqual(expected);
    expect((await listNotifications(t.db))[0]!.deliveries).toEqual([
      expect.objectContaining({ webhook: 'gone', lastError: 'webhook gone answered HTTP 404: not now' }),
      expect.objectContaining({
        webhook: 'ops',
        lastError: 'webhook ops answered HTTP 503: not now',
        deliveredAt: expect.any(String),
      }),
    ]);
    const [failure, ...more] = await listAuditEvents(t.db, { kind: 'notification.delivery_failed' });
    expect(more).toEqual([]);
    expect(failure).toMatchObject({
      subject: `notification:${notification!.id}`,
      details: { webhook: 'gone', error: 'webhook gone answered HTTP 404: not now' },
    });

    // Both settled: the first run handed over to a new one, carrying the count.
    const firstRun = client.workflow.getHandle(NOTIFICATION_DISPATCH_WORKFLOW_ID, first.firstExecutionRunId);
    await expect
      .poll(async () => (await firstRun.describe()).status.name, { timeout: 15_000 })
      .toBe('CONTINUED_AS_NEW');
    await expect
      .poll(() => dispatch.query(notificationDispatchQuery), { timeout: 15_000 })
      .toMatchObject({ inFlight: [], handledDeliveries: 2 });
    if (process.env.WARDEN_RECORD_HISTORIES === '1') {
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'notification-dispatch-delivered.json'),
        historyToJSON(await firstRun.fetchHistory()),
      );
    }

    // A later notification delivered too: the kill switch was not sent to `ops` again meanwhile.
    const later = await recordAuditEvent(t.db, {
      actor: 'governor',
      kind: 'governor.auto_disarm',
      subject: 'symbol:BTCUSDT',
      details: { reason: 'burst_limit_breach', detail: '3 executions in 5 min, max 2' },
    });
    const laterId = (await listNotifications(t.db)).find((n) => n.auditEventId === later!.id)!.id;
    await expect
      .poll(() => deliveries(laterId), { timeout: 30_000 })
      .toEqual([
        ['gone', 'failed', 1],
        ['ops', 'delivered', 2],
      ]);
    expect(accepted('ops', notification!.id)).toHaveLength(1);
    expect(accepted('ops', laterId)).toHaveLength(1);
  });

  it('a delivery still retrying when its worker stops is completed by the next worker, once', async () => {
    opsDown = true;
    const event = await recordAuditEvent(t.db, {
      actor: 'tripwire',
      kind: 'tripwire.triggered',
      subject: 'tripwire:WHOLESALE/contract_rate',
      details: { policy: 'WHOLESALE/contract_rate', action: 'KILL_SWITCH', dropFraction: 0.5 },
    });
    const id = (await listNotifications(t.db)).find((n) => n.auditEventId === event!.id)!.id;
    await client.workflow.getHandle(NOTIFICATION_DISPATCH_WORKFLOW_ID).signal(notificationsPendingSignal);
    // `ops` is down; the worker goes down too while Temporal holds the next retry.
    await expect
      .poll(() => posts.filter((p) => p.hook === 'ops' && p.body.id === id).length, { timeout: 30_000 })
      .toBeGreaterThan(0);
    await stopWorker();
    const [, ops] = (await listNotifications(t.db)).find((n) => n.id === id)!.deliveries;
    expect(ops).toMatchObject({
      webhook: 'ops',
      status: 'pending',
      lastError: 'webhook ops answered HTTP 503: not now',
    });
    opsDown = false;
    await startWorker();
    await expect
      .poll(async () => (await deliveries(id)).map(([webhook, status]) => [webhook, status]), { timeout: 30_000 })
      .toEqual([
        ['gone', 'failed'],
        ['ops', 'delivered'],
      ]);
    expect(accepted('ops', id)).toHaveLength(1);
    expect(posts.filter((p) => p.hook === 'ops' && p.body.id === id).length).toBe(
      (await listNotifications(t.db)).find((n) => n.id === id)!.deliveries[1]!.attempts,
    );
    expect(posts.find((p) => p.body.id === id)!.body).toMatchObject({
      kind: 'tripwire_fired',
      summary: 'Regression tripwire WHOLESALE/contract_rate dropped 50.0% → KILL_SWITCH',
      environment: 'e2e',
    });
  });

  it('`warden notifications` lists them with each delivery; --pending shows none left', async () => {
    // Read with an analyst's key, through the API.
    const api = await serveCliApi({ db: t.db, client, taskQueue });
    onTestFinished(() => api.close());
    const cli = api.cli(await api.key('nora', ['analyst']), { DATABASE_URL: t.url });
    const json = await cli(['notifications', '--json']);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as NotificationView[];
    expect(listed.map((n) => n.kind)).toEqual(['tripwire_fired', 'disarm', 'kill_switch_engaged']);
    expect(listed[2]!.deliveries.map((d) => [d.webhook, d.status])).toEqual([
      ['gone', 'failed'],
      ['ops', 'delivered'],
    ]);
    const text = await cli(['notifications']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('kill_switch_engaged');
    expect(text.stdout).toContain('gone:failed(1) ops:delivered(2)');
    expect(text.stdout).toContain('webhook gone answered HTTP 404: not now');
    const pending = await cli(['notifications', '--pending']);
    expect(pending).toMatchObject({ code: 0, stdout: 'no undelivered notifications\n' });
    const bad = await cli(['notifications', 'extra']);
    expect(bad).toMatchObject({ code: 2, stderr: 'warden: notifications: unexpected argument extra\n' });
  });
});
