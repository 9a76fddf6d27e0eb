import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationActivities, WebhookUnavailableError } from '../../activities/notifications';
import { appendAuditEvent, listAuditEvents, recordAuditEvent } from '../../src/db/audit.repository';
import { saveProposal } from '../../src/db/expansion-proposals.repository';
import {
  listNotifications,
  markDeliveryFailed,
  pendingDeliveries,
  routeNotifications,
  undeliveredCount,
} from '../../src/db/notifications.repository';
import { issuePermit } from '../../activities/gates/permits';
import { ErrorType } from '../../src/domain/shared/errors';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { classifyWebhookResponse, notificationFor } from '../../src/domain/notifications/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

describe('notification queue', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });
  // Each test starts from an empty queue; the audit log is append-only and stays.
  afterEach(async () => {
    await t.db.deleteFrom('notification_delivery').execute();
    await t.db.deleteFrom('notification').execute();
  });

  describe('which audit events notify', () => {
    it.each([
      [
        {
          actor: 'dana',
          kind: 'control_plane.kill_switch_engaged',
          subject: 'control-plane',
          details: { change: { source: 'operator', reason: 'drill' } },
        },
        'kill_switch_engaged',
        'Kill switch engaged by dana (operator): drill',
      ],
      [
        {
          actor: 'carol',
          kind: 'control_plane.kill_switch_released',
          subject: 'control-plane',
          details: { change: { reason: 'reviewed' } },
        },
        'kill_switch_released',
        'Kill switch released by carol: reviewed',
      ],
      [
        {
          actor: 'governor',
          kind: 'governor.auto_disarm',
          subject: 'symbol:BTCUSDT',
          details: { reason: 'burst_limit_breach', detail: '3 executions in 5 min, max 2' },
        },
        'disarm',
        'Governor disarmed to dry_run after a burst on BTCUSDT: 3 executions in 5 min, max 2',
      ],
      [
        {
          actor: 'tripwire',
          kind: 'tripwire.triggered',
          subject: 'tripwire:WHOLESALE/contract_rate',
          details: { policy: 'WHOLESALE/contract_rate', action: 'KILL_SWITCH', dropFraction: 0.42 },
        },
        'tripwire_fired',
        'Regression tripwire WHOLESALE/contract_rate dropped 42.0% → KILL_SWITCH',
      ],
      [
        { actor: 'canary', kind: 'canary.tripped', subject: 'canary', details: { tripped: ['postgres', 'temporal'] } },
        'canary_tripped',
        'Infrastructure canary tripped: postgres, temporal',
      ],
      [
        {
          actor: 'circuit-breaker',
          kind: 'breaker.pause_command_type',
          subject: 'breaker:failures',
          details: {
            rule: 'failures',
            action: 'pause_command_type',
            alertSeverity: 'high',
            commandType: 'SET_FAN',
            detail: '3 failures in 24h',
          },
        },
        'breaker_triggered',
        'Circuit breaker failures tripped on SET_FAN (pause_command_type, high severity): 3 failures in 24h',
      ],
      [
        {
          actor: 'circuit-breaker',
          kind: 'breaker.revert_to_l3',
          subject: 'breaker:critical',
          details: {
            rule: 'critical',
            action: 'revert_to_l3',
            alertSeverity: 'critical',
            commandType: null,
            detail: '1 critical incident',
          },
        },
        'breaker_triggered',
        'Circuit breaker critical tripped (revert_to_l3, critical severity): 1 critical incident',
      ],
      [
        {
          actor: 'governance-cycle',
          kind: 'proposal.created',
          subject: 'proposal:expansion-L3+-2026-11-27',
          details: { targetPhase: 'L3+' },
        },
        'proposal_waiting',
        'Expansion proposal expansion-L3+-2026-11-27 to L3+ waits for approval',
      ],
      [
        {
          actor: 'dana',
          kind: 'control_plane.go_live_set',
          subject: 'control-plane',
          details: { change: { kind: 'setGoLive', enabled: true, reason: 'launch' } },
        },
        'go_live_changed',
        'Go-live turned ON by dana: launch',
      ],
      [
        {
          actor: 'dana',
          kind: 'control_plane.apply_mode_set',
          subject: 'control-plane',
          details: { change: { kind: 'setApplyMode', mode: 'live', reason: 'cutover' } },
        },
        'apply_mode_live',
        'Apply mode set to LIVE by dana: deals now reach real executors (cutover)',
      ],
      [
        {
          actor: 'strategy-gate',
          kind: 'strategy.demoted',
          subject: 'strategy:momentum',
          details: { from: 'L3', to: 'L2', reason: 'drift 2.1σ', by: 'drift' },
        },
        'strategy_demoted',
        'Strategy momentum demoted L3 → L2 by drift: drift 2.1σ',
      ],
      [
        {
          actor: 'strategy-gate',
          kind: 'strategy.paused',
          subject: 'strategy:mr-1',
          details: { reason: 'drift beyond 50%', traceId: 'deal:d-1' },
        },
        'strategy_paused',
        'Strategy mr-1 paused by the strategy gate: drift beyond 50%; its orders are refused until an operator resumes it',
      ],
      [
        {
          actor: 'alice',
          kind: 'change_request.opened',
          subject: 'change-request:cr-1',
          details: {
            required: [{ role: 'risk_officer' }],
            needs: '1 risk_officer',
            expiresAt: new Date('2026-12-04T12:00:00Z'),
            reason: 'raise WHOLESALE cap',
          },
        },
        'change_request_waiting',
        'Change request cr-1 by alice waits for approval by 1 risk_officer until 2026-12-04T12:00:00.000Z: raise WHOLESALE cap',
      ],
      [
        {
          actor: 'bob',
          kind: 'control_plane.kill_switch_release_approved',
          subject: 'control-plane',
          details: { change: { role: 'manager' }, outcome: { status: 'pending', detail: '1 of 2 approvals' } },
        },
        'kill_switch_release_waiting',
        'Kill switch release voted by bob (manager); it waits for more approvals from owner, manager or risk_officer, not the engager: 1 of 2 approvals',
      ],
      [
        {
          actor: 'bot-7',
          kind: 'approval.waiting',
          subject: 'command:c-1',
          details: {
            what: 'Command c-1 (SET_DRUM)',
            roles: ['tech_lead', 'ops_lead'],
            deadline: '2026-12-04T12:00:00.000Z',
          },
        },
        'approval_waiting',
        'Command c-1 (SET_DRUM) waits for approval by tech_lead or ops_lead until 2026-12-04T12:00:00.000Z',
      ],
    ])('%o → %s', (event, kind, summary) => {
      expect(notificationFor(event)).toEqual({ kind, summary });
    });

    it('stays quiet for routine events, and survives details it did not expect', () => {
      // Apply mode to anything but live, and a request that needs nobody, wait for no one.
      expect(
        notificationFor({
          actor: 'a',
          kind: 'control_plane.apply_mode_set',
          subject: 'control-plane',
          details: { change: { mode: 'testnet' } },
        }),
      ).toBeNull();
      expect(
        notificationFor({
          actor: 'a',
          kind: 'change_request.opened',
          subject: 'change-request:x',
          details: { required: [] },
        }),
      ).toBeNull();
      for (const kind of [
        'breaker.resolved',
        'breaker.rule_set',
        'proposal.approved',
        'permit.blocked',
        'deal.executed',
        'notification.delivery_failed',
      ]) {
        expect(notificationFor({ actor: 'a', kind, subject: 's', details: {} })).toBeNull();
      }
      expect(
        notificationFor({
          actor: 'x',
          kind: 'control_plane.kill_switch_engaged',
          subject: 'control-plane',
          details: { change: 'garbage' },
        }),
      ).toEqual({
        kind: 'kill_switch_engaged',
        summary: 'Kill switch engaged by x (unknown source): no reason given',
      });
    });

    it('judges webhook answers: 2xx delivered, 408/429/5xx retried, the rest refused for good', () => {
      expect([200, 202, 204].map(classifyWebhookResponse)).toEqual(['delivered', 'delivered', 'delivered']);
      expect([408, 429, 500, 502, 503].map(classifyWebhookResponse)).toEqual([
        'retry',
        'retry',
        'retry',
        'retry',
        'retry',
      ]);
      expect([301, 400, 401, 403, 404, 410, 422].map(classifyWebhookResponse)).toEqual(Array(7).fill('rejected'));
    });
  });

  describe('enqueued with the audit event', () => {
    it('an appended event that notifies enqueues one notification carrying its facts; others enqueue nothing', async () => {
      const event = await recordAuditEvent(t.db, {
        actor: 'dana',
        kind: 'control_plane.kill_switch_engaged',
        subject: 'control-plane',
        details: { change: { source: 'operator', reason: 'drill' } },
      });
      await recordAuditEvent(t.db, {
        actor: 'dana',
        kind: 'control_plane.apply_mode_set',
        subject: 'control-plane',
        details: { change: { mode: 'testnet' } },
      });
      const [only, ...rest] = await listNotifications(t.db);
      expect(rest).toEqual([]);
      expect(only).toEqual({
        id: expect.any(String),
        at: event!.at.toISOString(),
        kind: 'kill_switch_engaged',
        subject: 'control-plane',
        summary: 'Kill switch engaged by dana (operator): drill',
        details: { change: { source: 'operator', reason: 'drill' } },
        auditEventId: event!.id,
        routed: false,
        deliveries: [],
      });
    });

    it('a retried writer whose event is already there enqueues nothing more', async () => {
      const view = {
        proposalId: 'expansion-L3+-2026-11-27',
        status: 'pending' as const,
        fromPhase: 'L3' as const,
        targetPhase: 'L3+' as const,
        commands: ['SET_FAN'],
        validationDays: 14,
        requiredRoles: ['tech_lead' as const],
        approvals: [],
        missingRoles: ['tech_lead' as const],
        rejection: null,
        rejectedMessages: 0,
        createdAt: '2026-11-27T23:00:00.000Z',
        expiresAt: '2026-12-04T23:00:00.000Z',
        validationEndsAt: null,
        revertedBy: null,
      };
      await saveProposal(t.db, view, 'governance-cycle', 'created');
      await saveProposal(t.db, view, 'governance-cycle', 'created');
      expect((await listNotifications(t.db)).map((n) => [n.kind, n.subject])).toEqual([
        ['proposal_waiting', 'proposal:expansion-L3+-2026-11-27'],
      ]);

      // A burst breach disarms; the activity retried with the same key appends its events once.
      const settings = { maxPerHour: 100, maxPer5Min: 1, permitTtlSeconds: 60, autoDisarm: true };
      const at = new Date();
      await issuePermit(t.db, settings, { key: 'burst-1', dealId: 'd1', symbol: 'ETHUSDT', at, actor: 'deal:d1' });
      const blocked = {
        key: 'burst-2',
        dealId: 'd2',
        symbol: 'ETHUSDT',
        at: new Date(at.getTime() + 1),
        actor: 'deal:d2',
      };
      expect(await issuePermit(t.db, settings, blocked)).toMatchObject({ granted: false, disarm: true });
      expect(await issuePermit(t.db, settings, blocked)).toMatchObject({ granted: false, disarm: true });
      expect((await listNotifications(t.db)).filter((n) => n.kind === 'disarm').map((n) => n.subject)).toEqual([
        'symbol:ETHUSDT',
      ]);
    });

    it('a rolled-back transaction leaves neither the event nor its notification', async () => {
      const before = (await listAuditEvents(t.db, { kind: 'canary.tripped' })).length;
      await expect(
        t.db.transaction().execute(async (trx) => {
          await appendAuditEvent(trx, {
            actor: 'canary',
            kind: 'canary.tripped',
            subject: 'canary',
            details: { tripped: ['postgres'] },
          });
          throw new Error('writer crashed');
        }),
      ).rejects.toThrow('writer crashed');
      expect(await listAuditEvents(t.db, { kind: 'canary.tripped' })).toHaveLength(before);
      expect(await listNotifications(t.db)).toEqual([]);
    });
  });

  describe('routing and the pending queue', () => {
    const trip = (n: number) =>
      recordAuditEvent(t.db, {
        actor: 'canary',
        kind: 'canary.tripped',
        subject: 'canary',
        details: { tripped: [`check-${n}`] },
      });

    it('routes each new notification to the webhooks configured now, once; a webhook added later gets no history', async () => {
      await trip(1);
      await trip(2);
      expect(await undeliveredCount(t.db)).toBe(2);
      expect(await routeNotifications(t.db, ['ops', 'pager'])).toBe(2);
      expect(await routeNotifications(t.db, ['ops', 'pager', 'late'])).toBe(0);
      const list = await listNotifications(t.db);
      expect(list.map((n) => [n.routed, n.deliveries.map((d) => [d.webhook, d.status, d.attempts])])).toEqual([
        [
          true,
          [
            ['ops', 'pending', 0],
            ['pager', 'pending', 0],
          ],
        ],
        [
          true,
          [
            ['ops', 'pending', 0],
            ['pager', 'pending', 0],
          ],
        ],
      ]);
      expect(await undeliveredCount(t.db)).toBe(4);

      // Without webhooks a notification is routed to nobody: recorded and listed, never pending.
      await trip(3);
      expect(await routeNotifications(t.db, [])).toBe(1);
      expect((await listNotifications(t.db))[0]).toMatchObject({ routed: true, deliveries: [] });
      expect(await listNotifications(t.db, { pendingOnly: true })).toHaveLength(2);
    });

    it('hands out the oldest pending deliveries, at most N per webhook, skipping those in flight and webhooks held back', async () => {
      for (let i = 0; i < 4; i++) await trip(i);
      await routeNotifications(t.db, ['ops', 'pager']);
      const all = await pendingDeliveries(t.db, { perWebhook: 10 });
      expect(all).toHaveLength(8);
      const ops = all.filter((d) => d.webhook === 'ops').map((d) => d.deliveryId);
      const pager = all.filter((d) => d.webhook === 'pager').map((d) => d.deliveryId);

      expect(await pendingDeliveries(t.db, { perWebhook: 2 })).toEqual([
        { deliveryId: ops[0], webhook: 'ops' },
        { deliveryId: pager[0], webhook: 'pager' },
        { deliveryId: ops[1], webhook: 'ops' },
        { deliveryId: pager[1], webhook: 'pager' },
      ]);
      // ops[0] and ops[1] are in flight: ops has no room left; pager's two are handed out.
      expect(
        (await pendingDeliveries(t.db, { perWebhook: 2, inFlight: [ops[0]!, ops[1]!] })).map((d) => d.deliveryId),
      ).toEqual([pager[0], pager[1]]);
      expect(
        (await pendingDeliveries(t.db, { perWebhook: 2, skipWebhooks: ['pager'] })).map((d) => d.deliveryId),
      ).toEqual([ops[0], ops[1]]);
    });

    it('gives up on a delivery once, with one audit event, and the gauges follow', async () => {
      await trip(9);
      await routeNotifications(t.db, ['ops']);
      const [delivery] = await pendingDeliveries(t.db, { perWebhook: 1 });
      expect(await markDeliveryFailed(t.db, delivery!.deliveryId, 'webhook ops answered HTTP 404')).toBe(true);
      expect(await markDeliveryFailed(t.db, delivery!.deliveryId, 'again')).toBe(false);
      const [failure, ...more] = await listAuditEvents(t.db, { kind: 'notification.delivery_failed' });
      expect(more).toEqual([]);
      expect(failure).toMatchObject({
        actor: 'notification-dispatch',
        details: { deliveryId: delivery!.deliveryId, webhook: 'ops', error: 'webhook ops answered HTTP 404' },
      });
      expect((await listNotifications(t.db))[0]!.deliveries).toEqual([
        expect.objectContaining({ webhook: 'ops', status: 'failed', lastError: 'webhook ops answered HTTP 404' }),
      ]);

      await trip(10);
      const metrics = await createGovernanceMetrics(t.db).metrics();
      expect(metrics).toContain('warden_notifications_undelivered 1');
      expect(metrics).toContain('warden_notification_deliveries{status="failed"} 1');
      expect(metrics).toContain('warden_notification_deliveries{status="pending"} 0');
    });
  });

  describe('the delivery activity', () => {
    let server: Server;
    let url: string;
    const received: { body: unknown; headers: IncomingMessage['headers'] }[] = [];
    let answer: (res: ServerResponse) => void = (res) => res.writeHead(200).end();

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push({ body: JSON.parse(body), headers: req.headers });
          answer(res);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    afterEach(() => {
      received.length = 0;
    });

    async function oneDelivery(): Promise<string> {
      await recordAuditEvent(t.db, {
        actor: 'dana',
        kind: 'control_plane.kill_switch_engaged',
        subject: 'control-plane',
        details: { change: { source: 'operator', reason: 'drill' } },
      });
      const activities = createNotificationActivities({
        db: t.db,
        webhooks: [{ name: 'ops', url }],
        environment: 'staging',
      });
      const [delivery] = await activities.claimPendingDeliveries({ perWebhook: 10, inFlight: [], skipWebhooks: [] });
      return delivery!.deliveryId;
    }
    // Failed attempts are expected here: keep the activity logger quiet.
    const quiet = new DefaultLogger('ERROR');
    const deliver = (deliveryId: string, webhooks = [{ name: 'ops', url }]) =>
      new MockActivityEnvironment(undefined, { logger: quiet }).run(
        createNotificationActivities({ db: t.db, webhooks, environment: 'staging', webhookTimeoutMs: 500 })
          .deliverNotification,
        { deliveryId },
      );

    it('POSTs the payload once; a retry after the outcome was recorded sends nothing', async () => {
      const deliveryId = await oneDelivery();
      answer = (res) => res.writeHead(204).end();
      await expect(deliver(deliveryId)).resolves.toEqual({ status: 'delivered' });
      await expect(deliver(deliveryId)).resolves.toEqual({ status: 'already_settled' });
      expect(received).toHaveLength(1);
      const [notification] = await listNotifications(t.db);
      expect(received[0]!.headers['content-type']).toBe('application/json');
      expect(received[0]!.body).toEqual({
        id: notification!.id,
        kind: 'kill_switch_engaged',
        subject: 'control-plane',
        summary: 'Kill switch engaged by dana (operator): drill',
        details: { change: { source: 'operator', reason: 'drill' } },
        at: notification!.at,
        environment: 'staging',
      });
      expect(notification!.deliveries).toEqual([
        expect.objectContaining({
          webhook: 'ops',
          status: 'delivered',
          attempts: 1,
          lastError: null,
          deliveredAt: expect.any(String),
        }),
      ]);
    });

    it('a 503, a timeout or a refused connection is retryable; the attempt is recorded', async () => {
      const deliveryId = await oneDelivery();
      answer = (res) => res.writeHead(503).end('maintenance');
      await expect(deliver(deliveryId)).rejects.toThrow(WebhookUnavailableError);
      answer = () => undefined; // never answers
      await expect(deliver(deliveryId)).rejects.toThrow(/POST to webhook ops failed: .*(timeout|aborted)/i);
      await expect(deliver(deliveryId, [{ name: 'ops', url: 'http://127.0.0.1:1/hook' }])).rejects.toThrow(
        WebhookUnavailableError,
      );
      const [notification] = await listNotifications(t.db);
      expect(notification!.deliveries[0]).toMatchObject({
        status: 'pending',
        attempts: 3,
        lastError: expect.stringMatching(/^POST to webhook ops failed/),
      });
      answer = (res) => res.writeHead(200).end();
    });

    it('a 404, or a webhook no longer configured, is refused for good', async () => {
      const deliveryId = await oneDelivery();
      answer = (res) => res.writeHead(404).end('no such hook');
      const refused = await deliver(deliveryId).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ApplicationFailure);
      expect(refused).toMatchObject({
        type: ErrorType.WebhookRejected,
        nonRetryable: true,
        message: 'webhook ops answered HTTP 404: no such hook',
      });
      const gone = await deliver(deliveryId, []).catch((error: unknown) => error);
      expect(gone).toMatchObject({
        type: ErrorType.WebhookRejected,
        nonRetryable: true,
        message: 'webhook ops is no longer configured (WARDEN_WEBHOOKS)',
      });
      answer = (res) => res.writeHead(200).end();
    });
  });
});
