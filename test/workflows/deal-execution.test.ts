import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { DealAlreadyStartedError, InvalidRequestError, WardenClient } from '../../src/client';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import type { ApplyMode } from '../../src/domain/control-plane/types';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { setHeimdallPolicy } from '../../src/db/heimdall.repository';
import { createRecommendation, recordSandboxTrial } from '../../src/db/producer.repository';
import type { DealInput, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS, type GovernorSettings } from '../../src/domain/permits/rules';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  localActivities,
  patchCost,
  recordDealReleaseRequest,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';

describe('dealExecution workflow (time-skipping server, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;
  let executeDeal: ReturnType<typeof vi.fn<(input: ExecuteDealInput) => Promise<ExecuteDealResult>>>;

  // A server of its own per test: a long run of skipped time can leave the
  // time-skipping server's clock locked, and `sleep` would then never return.
  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    t = await createTestDatabase();
    taskQueue = uniqueName('deals');
    warden = new WardenClient(env.client, taskQueue);
    executeDeal = vi.fn(async (input: ExecuteDealInput) => ({ realizedLoss: 0, externalId: `fill-${input.dealId}` }));
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
      governor: { ...DEFAULT_GOVERNOR_SETTINGS, ...options.governor },
      controlPlane: warden,
      executor: { executeDeal },
    });
    return Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: options.wrap ? options.wrap(activities) : activities,
    });
  };
  const arm = (applyMode: ApplyMode, goLive = true) =>
    t.db.updateTable('control_plane_state').set({ go_live_enabled: goLive, apply_mode: applyMode }).execute();
  const deal = (dealId: string, overrides: Partial<DealInput> = {}): DealInput => ({
    dealId,
    engine: 'WHOLESALE',
    symbol: 'BTCUSDT',
    amount: 100,
    requestedBy: 'deal-engine',
    ...overrides,
  });
  // Summed over days: the time-skipping server's clock is not the wall clock.
  const ledger = async (engine = 'WHOLESALE') =>
    t.db
      .selectFrom('risk_ledger_day')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<number>('exposure_used'), eb.val(0)).as('exposureUsed'),
        eb.fn.coalesce(eb.fn.sum<number>('open_risk_reserved'), eb.val(0)).as('openRiskReserved'),
        eb.fn.coalesce(eb.fn.sum<number>('realized_loss'), eb.val(0)).as('realizedLoss'),
        eb.fn.coalesce(eb.fn.sum<number>('actions'), eb.val(0)).as('actions'),
      ])
      .where('engine', '=', engine)
      .executeTakeFirstOrThrow()
      .then((r) => ({
        exposureUsed: Number(r.exposureUsed),
        openRiskReserved: Number(r.openRiskReserved),
        realizedLoss: Number(r.realizedLoss),
        actions: Number(r.actions),
      }));
  /** Saves a finished deal's history as a replay fixture (WARDEN_RECORD_HISTORIES=1). */
  const record = async (dealId: string, file: string) => {
    if (process.env.WARDEN_RECORD_HISTORIES !== '1') return;
    const history = await env.client.workflow.getHandle(`deal-${dealId}`).fetchHistory();
    writeFileSync(path.join(__dirname, '..', 'histories', file), historyToJSON(history));
  };
  const releaseRequest = (id: string, dealId: string, status: 'pending' | 'applied') =>
    recordDealReleaseRequest(t.db, { id, dealId, status });
  const reservations = () => t.db.selectFrom('risk_reservation').select(['idempotency_key', 'status']).execute();
  /** The local activities a deal's history recorded, in order (their markers). */
  const localActivitiesOf = async (dealId: string) =>
    localActivities(await env.client.workflow.getHandle(`deal-${dealId}`).fetchHistory());

  it('executes a deal within limits in testnet, settles it, records a KPI and an audit event', async () => {
    await arm('testnet');
    executeDeal.mockResolvedValueOnce({ realizedLoss: 12.5, externalId: 'ex-1' });
    const [result, progress] = await (
      await worker()
    ).runUntil(async () => {
      const result = await warden.executeDeal(deal('d1'));
      return [result, await warden.dealProgress('d1')] as const;
    });
    expect(result).toEqual({
      status: 'executed',
      dealId: 'd1',
      applyMode: 'testnet',
      permitId: expect.any(String),
      realizedLoss: 12.5,
      externalId: 'ex-1',
    });
    expect(executeDeal).toHaveBeenCalledWith({
      dealId: 'd1',
      engine: 'WHOLESALE',
      symbol: 'BTCUSDT',
      amount: 100,
      applyMode: 'testnet',
      permitId: result.status === 'executed' ? result.permitId : '',
      executionClass: 'PROD_EXEC',
    });
    expect(await ledger()).toMatchObject({ exposureUsed: 100, openRiskReserved: 0, realizedLoss: 12.5, actions: 1 });
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:d1', status: 'settled' }]);
    expect(await t.db.selectFrom('execution_permit').select('status').execute()).toEqual([{ status: 'consumed' }]);
    expect(await t.db.selectFrom('kpi_event').select(['domain', 'metric', 'success', 'value']).execute()).toEqual([
      { domain: 'WHOLESALE', metric: 'deal_executed', success: true, value: 100 },
    ]);
    expect((await listAuditEvents(t.db, { kind: 'deal.executed' })).map((e) => e.subject)).toEqual(['deal:d1']);
    await record('d1', 'deal-execution-settle-records-outcome.json');
    // One patch for the deal's generation (its marker and the SDK's upsert), one upsert of its outcome.
    expect(patchCost(await env.client.workflow.getHandle('deal-d1').fetchHistory())).toEqual({
      patches: ['deal-generation-2026-12-admission'],
      upserts: 2,
    });
    // Issue 16: admission, the control plane, the reserve and the permit are one local activity (one
    // transaction); the settle records the deal's outcome in its own.
    expect(await localActivitiesOf('d1')).toEqual(['claimDeal', 'admitDeal', 'authorizeExecution', 'settleResult']);
    expect(progress).toMatchObject({
      stage: 'done',
      applyMode: 'testnet',
      gates: [{ gate: 'control_plane' }, { gate: 'risk' }, { gate: 'permit' }, { gate: 'pre_execute_check' }],
    });
  });

  it('runs the whole gate path in dry_run without calling the executor, leaving nothing reserved', async () => {
    await arm('dry_run');
    const result = await (await worker()).runUntil(() => warden.executeDeal(deal('dry')));
    expect(result).toMatchObject({ status: 'dry_run', applyMode: 'dry_run' });
    expect(executeDeal).not.toHaveBeenCalled();
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:dry', status: 'released' }]);
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
  });

  it('denies at the control plane while go-live is off, before reserving anything', async () => {
    const result = await (await worker()).runUntil(() => warden.executeDeal(deal('off')));
    expect(result).toEqual({
      status: 'denied',
      dealId: 'off',
      gate: 'control_plane',
      reason: 'go_live_disabled',
      detail: expect.any(String),
    });
    expect(await reservations()).toEqual([]);
    expect((await listAuditEvents(t.db, { kind: 'deal.denied' }))[0]).toMatchObject({
      details: { result: { gate: 'control_plane', reason: 'go_live_disabled' } },
    });
  });

  it('denies a deal over the cap with its reason and leaves nothing reserved', async () => {
    await arm('live');
    const result = await (await worker()).runUntil(() => warden.executeDeal(deal('big', { amount: 600 })));
    expect(result).toMatchObject({ status: 'denied', gate: 'risk', reason: 'open_risk_exceeded' });
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    expect(await t.db.selectFrom('execution_permit').selectAll().execute()).toEqual([]);
    expect(executeDeal).not.toHaveBeenCalled();
  });

  it('releases the reservation when the recommendation is not prod-eligible', async () => {
    await arm('live');
    const rec = await createRecommendation(t.db, { domain: 'WHOLESALE_OFFER', confidence: 0.95, actor: 'heimdall' });
    const result = await (
      await worker()
    ).runUntil(() => warden.executeDeal(deal('rec', { domain: 'WHOLESALE_OFFER', recommendationId: rec.id })));
    expect(result).toMatchObject({ status: 'denied', gate: 'prod_eligibility', reason: 'prod_use_disabled' });
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:rec', status: 'released' }]);
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    // Given back inside admission's transaction, and the outcome says so.
    expect((await listAuditEvents(t.db, { kind: 'deal.denied' }))[0]).toMatchObject({
      details: { compensation: 'reservation released: denied at prod_eligibility: prod_use_disabled' },
    });
  });

  it('executes with an eligible recommendation', async () => {
    await arm('live');
    await setHeimdallPolicy(
      t.db,
      {
        domain: 'BUYER_MATCH',
        minConfidenceProd: 0.9,
        minSandboxTrials: 2,
        minSandboxSuccessRate: 0.5,
        prodUseEnabled: true,
      },
      'alice',
    );
    await recordSandboxTrial(t.db, { domain: 'BUYER_MATCH', success: true, confidence: 0.95 });
    await recordSandboxTrial(t.db, { domain: 'BUYER_MATCH', success: true, confidence: 0.93 });
    const rec = await createRecommendation(t.db, { domain: 'BUYER_MATCH', confidence: 0.96, actor: 'heimdall' });
    expect(rec.prodEligible).toBe(true);
    const result = await (
      await worker()
    ).runUntil(() => warden.executeDeal(deal('match', { domain: 'BUYER_MATCH', recommendationId: rec.id })));
    expect(result).toMatchObject({ status: 'executed', applyMode: 'live' });
  });

  it('a kill switch engaged between admission and execute releases and denies', async () => {
    await arm('live');
    const w = await worker({
      wrap: (a) => ({
        ...a,
        admitDeal: async (input) => {
          const permit = await a.admitDeal(input);
          await t.db
            .updateTable('control_plane_state')
            .set({ kill_switch_engaged: true, kill_switch_source: 'tripwire', reason: 'roi drop' })
            .execute();
          return permit;
        },
      }),
    });
    const result = await w.runUntil(() => warden.executeDeal(deal('killed')));
    expect(result).toMatchObject({ status: 'denied', gate: 'control_plane', reason: 'kill_switch_engaged' });
    expect(executeDeal).not.toHaveBeenCalled();
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:killed', status: 'released' }]);
    expect(await t.db.selectFrom('execution_permit').select('status').execute()).toEqual([{ status: 'revoked' }]);
    await record('killed', 'deal-execution-generation-killed.json');
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
  });

  it('retries a failing executor, then keeps the reservation until reconcileDeal says it did not execute', async () => {
    await arm('live');
    executeDeal.mockRejectedValue(new Error('exchange unreachable'));
    const result = await (
      await worker()
    ).runUntil(async () => {
      const handle = await warden.startDeal(deal('flaky'));
      // Retries exhausted: the order may have gone through, so nothing is released yet.
      await expect
        .poll(async () => (await warden.dealProgress('flaky')).stage, { timeout: 20_000 })
        .toBe('awaiting_reconciliation');
      expect(await reservations()).toEqual([{ idempotency_key: 'deal:flaky', status: 'reserved' }]);
      expect((await warden.dealProgress('flaky')).result).toMatchObject({
        status: 'needs_reconciliation',
        cause: '3 attempts failed, the last: Error: exchange unreachable',
      });
      // A release frees money: one person's word does not do it (invariant 8), nor a request that has not applied.
      const word = { executed: false, actor: 'ops', reason: 'no fill' };
      const refusal = (changeRequestId?: string) =>
        warden.reconcileDeal('flaky', { ...word, ...(changeRequestId ? { changeRequestId } : {}) }).then(
          () => 'counted',
          (error: Error) => (error.cause as Error | undefined)?.message,
        );
      expect(await refusal()).toMatch(/changeRequestId: releasing deal flaky needs an approved deal_release change/);
      expect(await refusal('cr-forged')).toBe('changeRequestId: no change request cr-forged');
      await releaseRequest('cr-pending', 'flaky', 'pending');
      expect(await refusal('cr-pending')).toMatch(/change request cr-pending is pending, not applied/);
      expect(await reservations()).toEqual([{ idempotency_key: 'deal:flaky', status: 'reserved' }]);
      expect((await warden.dealProgress('flaky')).stage).toBe('awaiting_reconciliation');
      await releaseRequest('cr-applied', 'flaky', 'applied');
      // A forged word sent alongside the approved release never crowds it out.
      const [forged, reconciled] = await Promise.all([
        refusal('cr-forged'),
        warden.reconcileDeal('flaky', { ...word, changeRequestId: 'cr-applied' }),
      ]);
      expect(forged).not.toBe('counted');
      expect(await handle.result()).toEqual(reconciled);
      return reconciled;
    });
    expect(result).toEqual({
      status: 'failed',
      dealId: 'flaky',
      error: 'not executed (reconciled by ops): no fill',
      compensated: true,
    });
    await record('flaky', 'deal-execution-generation-release-approved.json');
    const audited = (await listAuditEvents(t.db, { limit: 500 })).filter((e) => e.subject === 'deal:flaky');
    expect(audited.filter((e) => e.kind === 'deal.reconcile_refused').length).toBeGreaterThanOrEqual(2);
    expect(audited.filter((e) => e.kind === 'deal.reconciled').map((e) => e.details)).toEqual([
      expect.objectContaining({ executed: false, changeRequestId: 'cr-applied' }),
    ]);
    expect(executeDeal).toHaveBeenCalledTimes(3);
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:flaky', status: 'released' }]);
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    expect(await t.db.selectFrom('kpi_event').select(['success']).execute()).toEqual([{ success: false }]);
  });

  it('does not retry an executor that rejects the order permanently', async () => {
    await arm('live');
    executeDeal.mockRejectedValue(ApplicationFailure.nonRetryable('insufficient margin', 'ExecutionRejected'));
    const result = await (await worker()).runUntil(() => warden.executeDeal(deal('rejected')));
    expect(result).toMatchObject({ status: 'failed', error: 'ExecutionRejected: insufficient margin' });
    expect(executeDeal).toHaveBeenCalledTimes(1);
  });

  it('retries an admission that failed after its commit without counting it twice', async () => {
    await arm('live');
    const admit = vi.fn();
    const w = await worker({
      wrap: (a) => ({
        ...a,
        admitDeal: async (input) => {
          admit(input);
          const admission = await a.admitDeal(input);
          if (admit.mock.calls.length === 1) throw new Error('connection reset after commit');
          return admission;
        },
      }),
    });
    const result = await w.runUntil(() => warden.executeDeal(deal('retry', { amount: 250 })));
    expect(result).toMatchObject({ status: 'executed' });
    expect(admit).toHaveBeenCalledTimes(2);
    expect(await t.db.selectFrom('execution_permit').select('status').execute()).toEqual([{ status: 'consumed' }]);
    expect(await ledger()).toMatchObject({ exposureUsed: 250, openRiskReserved: 0, actions: 1 });
    expect(await t.db.selectFrom('risk_event').select(['kind']).execute()).toEqual([
      { kind: 'RESERVE' },
      { kind: 'SETTLE' },
    ]);
  });

  it('an admission retried after a kill switch engaged answers its first decision, and the last gate stops the deal', async () => {
    await arm('live');
    let calls = 0;
    const w = await worker({
      wrap: (a) => ({
        ...a,
        admitDeal: async (input) => {
          const admission = await a.admitDeal(input);
          calls += 1;
          if (calls === 1) {
            await t.db
              .updateTable('control_plane_state')
              .set({ kill_switch_engaged: true, kill_switch_source: 'tripwire', reason: 'roi drop' })
              .execute();
            throw new Error('connection reset after commit');
          }
          return admission;
        },
      }),
    });
    const [result, progress] = await w.runUntil(async () => {
      const result = await warden.executeDeal(deal('retry-killed', { amount: 250 }));
      return [result, await warden.dealProgress('retry-killed')] as const;
    });
    // Not a denial at admission, which would leave the first attempt's reservation and permit held.
    expect(result).toMatchObject({ status: 'denied', gate: 'control_plane', reason: 'kill_switch_engaged' });
    expect(progress.gates.map((g) => g.gate)).toEqual(['control_plane', 'risk', 'permit', 'control_plane']);
    expect(calls).toBe(2);
    expect(executeDeal).not.toHaveBeenCalled();
    expect(await reservations()).toEqual([{ idempotency_key: 'deal:retry-killed', status: 'released' }]);
    expect(await t.db.selectFrom('execution_permit').select('status').execute()).toEqual([{ status: 'revoked' }]);
    expect(await ledger()).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
  });

  it('blocks on the rate limits over time, and a burst breach disarms to dry_run', async () => {
    await arm('testnet');
    // A plain client keeps the server's clock locked while we wait on results;
    // time moves only where the test says, so the windows are exact.
    warden = new WardenClient(new Client({ connection: env.connection }), taskQueue);
    const w = await worker({ governor: { maxPer5Min: 2, maxPerHour: 3 } });
    await w.runUntil(async () => {
      await warden.ensureControlPlane();
      expect(await warden.executeDeal(deal('r1'))).toMatchObject({ status: 'executed' });
      expect(await warden.executeDeal(deal('r2'))).toMatchObject({ status: 'executed' });
      expect(await warden.executeDeal(deal('r3'))).toMatchObject({
        status: 'denied',
        gate: 'permit',
        reason: 'burst_limit_exceeded',
      });
      await expect.poll(async () => (await readControlPlaneState(t.db)).applyMode, { timeout: 10_000 }).toBe('dry_run');
      expect(await readControlPlaneState(t.db)).toMatchObject({
        updatedBy: 'governor',
        reason: expect.stringContaining('auto-disarm: burst_limit_breach on BTCUSDT'),
      });
      expect(await t.db.selectFrom('disarm_record').select(['reason', 'symbol']).execute()).toEqual([
        { reason: 'burst_limit_breach', symbol: 'BTCUSDT' },
      ]);

      await env.sleep('6 minutes');
      expect(await warden.executeDeal(deal('r4'))).toMatchObject({ status: 'dry_run' });
      expect(await warden.executeDeal(deal('r5'))).toMatchObject({
        status: 'denied',
        gate: 'permit',
        reason: 'hourly_limit_exceeded',
      });
      await env.sleep('1 hour');
      expect(await warden.executeDeal(deal('r6'))).toMatchObject({ status: 'dry_run' });
    });
    expect(executeDeal).toHaveBeenCalledTimes(2);
    expect(await ledger()).toMatchObject({ openRiskReserved: 0 });
  });

  it('rejects bad input naming the field, and reserves nothing', async () => {
    await arm('live');
    await expect(warden.startDeal(deal('neg', { amount: -5 }))).rejects.toThrow(
      new InvalidRequestError('invalid deal: amount: must be greater than 0'),
    );
    await expect(warden.startDeal(deal('bad engine', { engine: 'wholesale' }))).rejects.toThrow(
      /^invalid deal: dealId: .*; engine: expected an engine name/,
    );
    await (
      await worker()
    ).runUntil(async () => {
      // Straight to Temporal, past the client's check: the workflow refuses it itself.
      const handle = await env.client.workflow.start('dealExecution', {
        taskQueue,
        workflowId: 'deal-raw',
        args: [{ ...deal('raw'), amount: 1.234 }],
      });
      const error = await handle.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toMatchObject({
        type: 'InvalidInput',
        message: 'invalid dealExecution input: amount: must be in whole cents',
      });
    });
    expect(await reservations()).toEqual([]);
  });

  it('never executes the same deal twice', async () => {
    await arm('live');
    await (
      await worker()
    ).runUntil(async () => {
      const first = await warden.executeDeal(deal('once'));
      await expect(warden.startDeal(deal('once'))).rejects.toThrow(DealAlreadyStartedError);
      expect(await warden.executeDeal(deal('once'))).toEqual(first);
    });
    expect(executeDeal).toHaveBeenCalledTimes(1);
  });
});
