import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import type { DealInput, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS, type GovernorSettings } from '../../src/domain/permits/rules';
import { dealWorkflowPort } from '../../workers/wire';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  recordDealReleaseRequest,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';

// Issue 13 items 4–6: a deal id executes once, ambiguity keeps the money
// reserved until reconcileDeal, and cancelled or terminated deals leak nothing.
describe('a deal’s lifecycle: claims, reconciliation, cancellation, the sweep (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;
  let executeDeal: ReturnType<typeof vi.fn<(input: ExecuteDealInput) => Promise<ExecuteDealResult>>>;

  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    t = await createTestDatabase();
    taskQueue = uniqueName('lifecycle');
    warden = new WardenClient(env.client, taskQueue);
    executeDeal = vi.fn(async (input: ExecuteDealInput) => ({ realizedLoss: 0, externalId: `fill-${input.dealId}` }));
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
  });
  afterEach(async () => {
    await env.client.workflow
      .getHandle(CONTROL_PLANE_WORKFLOW_ID)
      .terminate('test over')
      .catch(() => undefined);
    await t.drop();
    await env.teardown();
  });

  const worker = (
    options: {
      governor?: Partial<GovernorSettings>;
      wrap?: (a: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
    } = {},
  ) => {
    const activities = createActivities({
      db: t.db,
      governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 10, maxPerHour: 10, ...options.governor },
      controlPlane: warden,
      executor: { executeDeal },
      dealWorkflows: dealWorkflowPort(env.client),
    });
    return Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: options.wrap ? options.wrap(activities) : activities,
    });
  };
  const deal = (dealId: string, overrides: Partial<DealInput> = {}): DealInput => ({
    dealId,
    engine: 'WHOLESALE',
    symbol: 'BTCUSDT',
    amount: 100,
    requestedBy: 'deal-engine',
    ...overrides,
  });
  const reservations = () => t.db.selectFrom('risk_reservation').select(['idempotency_key', 'status']).execute();
  const permits = () => t.db.selectFrom('execution_permit').select(['deal_id', 'status']).execute();
  const openRisk = async () =>
    Number(
      (
        await t.db
          .selectFrom('risk_ledger_day')
          .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('open_risk_reserved'), eb.val(0)).as('open'))
          .where('engine', '=', 'WHOLESALE')
          .executeTakeFirstOrThrow()
      ).open,
    );
  const record = async (workflowId: string, file: string) => {
    if (process.env.WARDEN_RECORD_HISTORIES !== '1') return;
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(path.join(__dirname, '..', 'histories', file), historyToJSON(history));
  };
  /** Another workflow id for the same deal id: what a raw `temporal workflow start` can do. */
  const startRaw = (input: DealInput, workflowId = `raw-${randomUUID()}`) =>
    env.client.workflow.start('dealExecution', { taskQueue, workflowId, args: [input] });
  const sweep = async (file?: string) => {
    const workflowId = `sweep-${randomUUID()}`;
    const report = await env.client.workflow.execute('reservationSweep', { taskQueue, workflowId, args: [] });
    if (file) await record(workflowId, file);
    return report;
  };
  /** A gate that holds until the test lets it go: the deal is then in flight at a known step. */
  const held = () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const entered = vi.fn();
    return { gate, release, entered };
  };

  it('a second workflow id for an executed deal id gets its result, and with other terms is denied deal_id_reused', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const first = await warden.executeDeal(deal('twice'));
      expect(first).toMatchObject({ status: 'executed' });
      const again = await startRaw(deal('twice'));
      expect(await again.result()).toEqual(first);
      await record(again.workflowId, 'deal-execution-claim-replayed.json');
      expect(await (await startRaw(deal('twice', { amount: 300, side: 'sell' }))).result()).toMatchObject({
        status: 'denied',
        gate: 'claim',
        reason: 'deal_id_reused',
        detail: expect.stringContaining('buy 100 BTCUSDT on WHOLESALE'),
      });
    });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:twice', status: 'settled' }]);
    expect(await listAuditEvents(t.db, { kind: 'deal.claim_replayed' })).toHaveLength(1);
    expect((await listAuditEvents(t.db, { kind: 'deal.denied' }))[0]).toMatchObject({
      details: { result: { gate: 'claim', reason: 'deal_id_reused' } },
    });
  });

  it('an executor that does not start within the permit’s TTL is denied permit_expired and releases', async () => {
    const nobody = uniqueName('nobody-polls');
    const result = await (
      await worker({ governor: { permitTtlSeconds: 2 } })
    ).runUntil(() => warden.executeDeal(deal('late', { executorTaskQueue: nobody })));
    expect(result).toMatchObject({ status: 'denied', gate: 'permit', reason: 'permit_expired' });
    expect(executeDeal).not.toHaveBeenCalled();
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:late', status: 'released' }]);
    expect(await openRisk()).toBe(0);
    await record('deal-late', 'deal-execution-permit-expired.json');
  });

  it('a deal cancelled before its executor compensates; cancelled after it was scheduled, it reconciles', async () => {
    const permit = held();
    const w = await worker({
      wrap: (a) => ({
        ...a,
        // Admission commits its reservation and permit, then the cancel arrives before the run hears of them.
        admitDeal: async (input) => {
          const admission = await a.admitDeal(input);
          if (input.dealId === 'cancel-early') {
            permit.entered();
            // An activity that honours cancellation: the cancel reaches it, it stops.
            await Promise.race([permit.gate, Context.current().cancelled]);
          }
          return admission;
        },
      }),
    });
    await w.runUntil(async () => {
      const early = await warden.startDeal(deal('cancel-early'));
      await expect.poll(() => permit.entered.mock.calls.length, { timeout: 10_000 }).toBe(1);
      await early.cancel();
      const error = await early.result().catch((e: unknown) => e);
      permit.release();
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(await reservations()).toEqual([{ idempotency_key: 'deal:cancel-early', status: 'released' }]);
      expect(await permits()).toEqual([{ deal_id: 'cancel-early', status: 'revoked' }]);
      expect((await listAuditEvents(t.db, { kind: 'deal.failed' }))[0]).toMatchObject({
        details: { result: { error: 'cancelled before execution', compensated: true } },
      });

      const late = await warden.startDeal(deal('cancel-late', { executorTaskQueue: uniqueName('nobody') }));
      await expect
        .poll(async () => (await warden.dealProgress('cancel-late')).stage, { timeout: 10_000 })
        .toBe('execute');
      await late.cancel();
      await expect
        .poll(async () => (await warden.dealProgress('cancel-late')).stage, { timeout: 10_000 })
        .toBe('awaiting_reconciliation');
      expect((await reservations()).find((r) => r.idempotency_key === 'deal:cancel-late')).toEqual({
        idempotency_key: 'deal:cancel-late',
        status: 'reserved',
      });
      // Since deal-release-approval, a release counts under an applied deal_release change request only.
      await recordDealReleaseRequest(t.db, { id: 'cr-cancel-late', dealId: 'cancel-late', status: 'applied' });
      expect(
        await warden.reconcileDeal('cancel-late', {
          executed: false,
          actor: 'ops',
          reason: 'never sent',
          changeRequestId: 'cr-cancel-late',
        }),
      ).toMatchObject({ status: 'failed', compensated: true });
      await record('deal-cancel-late', 'deal-execution-cancelled-after-start.json');
    });
    expect(await openRisk()).toBe(0);
  });

  it('the sweep releases a terminated deal that never used its permit, and flags one that did', async () => {
    const permit = held();
    const w = await worker({
      wrap: (a) => ({
        ...a,
        // Held at the last gate until the sweep is done: a local activity outlives a terminate.
        authorizeExecution: async (input) => {
          if (input.dealId === 'term-early') {
            permit.entered();
            await permit.gate;
          }
          return a.authorizeExecution(input);
        },
      }),
    });
    await w.runUntil(async () => {
      const early = await warden.startDeal(deal('term-early'));
      await expect.poll(() => permit.entered.mock.calls.length, { timeout: 10_000 }).toBe(1);
      const running = await warden.startDeal(deal('still-running', { executorTaskQueue: uniqueName('nobody') }));
      const late = await warden.startDeal(deal('term-late', { executorTaskQueue: uniqueName('nobody') }));
      // Both past their pre-execute check: their permits are used.
      await expect
        .poll(async () => (await permits()).filter((p) => p.status === 'consumed').length, { timeout: 10_000 })
        .toBe(2);
      await early.terminate('operator pulled the plug');
      await late.terminate('worker host lost');

      const report = await sweep('reservation-sweep-released-flagged.json');
      expect(report).toMatchObject({ released: ['term-early'], flagged: ['term-late'] });
      // A running deal's holdings are never swept.
      expect(report.kept).toBeGreaterThanOrEqual(1);
      const byKey = Object.fromEntries((await reservations()).map((r) => [r.idempotency_key, r.status]));
      expect(byKey).toEqual({
        'deal:term-early': 'released',
        'deal:term-late': 'reserved',
        'deal:still-running': 'reserved',
      });
      expect((await permits()).find((p) => p.deal_id === 'term-early')).toEqual({
        deal_id: 'term-early',
        status: 'revoked',
      });
      expect((await listAuditEvents(t.db, { kind: 'deal.orphan_flagged' })).map((e) => e.subject)).toEqual([
        'deal:term-late',
      ]);
      expect(
        (
          await t.db
            .selectFrom('notification')
            .select('subject')
            .where('kind', '=', 'deal_needs_reconciliation')
            .execute()
        ).map((n) => n.subject),
      ).toEqual(['deal:term-late']);
      // A second run of the sweep changes nothing and audits nothing twice.
      expect(await sweep()).toMatchObject({ released: [], flagged: ['term-late'] });
      expect(await listAuditEvents(t.db, { kind: 'deal.orphan_flagged' })).toHaveLength(1);
      // The released deal's id now answers with its recorded result.
      expect(await (await startRaw(deal('term-early'))).result()).toMatchObject({
        status: 'failed',
        compensated: true,
      });
      await running.terminate('test over');
      // The held step, let go after the sweep, finds its permit revoked.
      permit.release();
    });
    expect(executeDeal).not.toHaveBeenCalled();
  });
});
