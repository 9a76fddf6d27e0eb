import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import type { GovernanceSettings } from '../../src/config/index';
import { CONTROL_PLANE_WORKFLOW_ID, promotionWorkflowId } from '../../workflows/names';
import { addApprover } from '../../src/db/autonomy.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import { evaluateStrategyDrift, setDriftBaseline } from '../../src/db/strategy-drift.repository';
import { getStrategy, recordPromotion, type Strategy } from '../../src/db/strategy.repository';
import { seedStrategy } from '../support/strategies';
import { issueToken, revokeTokens } from '../../src/db/execution-tokens.repository';
import { listNotifications } from '../../src/db/notifications.repository';
import { listAuditEvents } from '../../src/db/audit.repository';
import { reconcilePosition } from '../../src/db/positions.repository';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import type { DealInput, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import {
  approveOrderSignal,
  approvePromotionSignal,
  dealProgressQuery,
  promotionStatusQuery,
} from '../../workflows/messages';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  localActivities,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

describe('strategy gate inside dealExecution (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;
  let executeDeal: ReturnType<typeof vi.fn<(input: ExecuteDealInput) => Promise<ExecuteDealResult>>>;
  let n = 0;

  // A server of its own per test, as for every file that skips time: a query after the worker of the test
  // before it stopped could hang on a shared one (seen once, "an L2 order waits for approveOrder…").
  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    t = await createTestDatabase();
    taskQueue = uniqueName('strategy');
    warden = new WardenClient(env.client, taskQueue);
    executeDeal = vi.fn(async () => ({ realizedLoss: 0, pnl: 5 }));
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    for (const engine of ['GLOBAL', 'STRAT'])
      await upsertRiskPolicy(
        t.db,
        {
          engine,
          maxDailyLoss: null,
          maxDailyExposure: null,
          maxOpenRisk: null,
          maxActionsPerDay: null,
          enabled: true,
        },
        'setup',
      );
    await addApprover(t.db, 'tech_lead', 'alice', 'setup');
  });
  afterEach(async () => {
    await env.client.workflow
      .getHandle(CONTROL_PLANE_WORKFLOW_ID)
      .terminate('test over')
      .catch(() => undefined);
    await t.drop();
    await env.teardown();
  });

  const worker = (settings: GovernanceSettings = TEST_SETTINGS) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPerHour: 1000, maxPer5Min: 1000 },
        controlPlane: warden,
        executor: { executeDeal },
        settings,
      }),
    });
  const strategy = (over: Partial<Strategy> = {}) =>
    seedStrategy(
      t.db,
      {
        id: 'mr-1',
        enabled: true,
        level: 'L4',
        paused: false,
        pausedReason: null,
        capital: 100_000,
        tokenRequired: false,
        healthFloor: 0.25,
        ...over,
      },
      'setup',
      'test',
    );
  const deal = (over: Partial<DealInput> = {}): DealInput => ({
    dealId: `d-${++n}-${Date.now()}`,
    engine: 'STRAT',
    symbol: `S${n}`,
    amount: 100,
    requestedBy: 'bot',
    strategyId: 'mr-1',
    ...over,
  });
  /** Saves a finished workflow's history as a replay fixture (WARDEN_RECORD_HISTORIES=1). */
  const record = async (workflowId: string, file: string, runId?: string) => {
    if (process.env.WARDEN_RECORD_HISTORIES !== '1') return;
    writeFileSync(
      path.join(__dirname, '..', 'histories', file),
      historyToJSON(await env.client.workflow.getHandle(workflowId, runId).fetchHistory()),
    );
  };
  const reserved = async (dealId: string) =>
    (
      await t.db
        .selectFrom('risk_reservation')
        .select('amount')
        .where('idempotency_key', '=', `deal:${dealId}`)
        .executeTakeFirst()
    )?.amount;

  it('with the gate off (strategy not opted in) the deal runs exactly as before', async () => {
    const input = deal();
    const result = await (await worker()).runUntil(() => warden.executeDeal(input));
    expect(result).toMatchObject({ status: 'executed', applyMode: 'live' });
    expect(await reserved(input.dealId)).toBe(100);
    expect(await t.db.selectFrom('governance_log').selectAll().execute()).toEqual([]);
  });

  it('L3 caps the size: REDUCE_SIZE shrinks what the risk guard reserves, and the log says why', async () => {
    await strategy({ level: 'L3' });
    const input = deal();
    await (
      await worker()
    ).runUntil(async () => {
      expect(await warden.executeDeal(input)).toMatchObject({ status: 'executed' });
      await record(`deal-${input.dealId}`, 'deal-execution-strategy-at-once.json');
      // Issue 16: the gate, the reserve and the permit in admission's one local activity and transaction.
      const ran = localActivities(await env.client.workflow.getHandle(`deal-${input.dealId}`).fetchHistory());
      expect(ran).toEqual([
        'claimDeal',
        'admitDeal',
        'authorizeExecution',
        'settleResult',
        'recordStrategyOutcome',
        'recordDealOutcome',
      ]);
    });
    expect(await reserved(input.dealId)).toBe(25);
    expect(executeDeal).toHaveBeenCalledWith(expect.objectContaining({ amount: 25 }));
    expect(await t.db.selectFrom('governance_log').select(['trace_id', 'action', 'scores']).execute()).toEqual([
      {
        trace_id: `deal:${input.dealId}`,
        action: 'REDUCE_SIZE',
        scores: expect.objectContaining({ level: 'L3', sizeMultiplier: 0.25 }),
      },
    ]);
  });

  it('drift from the detector feeds REDUCE_SIZE, then PAUSE; the metrics show it', async () => {
    await strategy();
    await setDriftBaseline(t.db, { strategyId: 'mr-1', metric: 'sharpe', baselineValue: 2, actor: 'quant' });
    await evaluateStrategyDrift(t.db, { strategyId: 'mr-1', metric: 'sharpe', liveValue: 1.3 }); // 35%
    const reduced = deal();
    await (
      await worker()
    ).runUntil(async () => {
      expect(await warden.executeDeal(reduced)).toMatchObject({ status: 'executed' });
      await evaluateStrategyDrift(t.db, { strategyId: 'mr-1', metric: 'sharpe', liveValue: 0.9 }); // 55%
      expect(await warden.executeDeal(deal())).toMatchObject({ status: 'denied', gate: 'strategy', reason: 'pause' });
    });
    expect(await reserved(reduced.dealId)).toBe(50);
    expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ paused: true, pausedReason: 'drift: drift beyond 50%' });
    // Operators are told: a paused strategy refuses every order until someone resumes it.
    expect((await listNotifications(t.db)).map((n) => [n.kind, n.subject])).toContainEqual([
      'strategy_paused',
      'strategy:mr-1',
    ]);
    const metrics = await createGovernanceMetrics(t.db).metrics();
    expect(metrics).toContain('warden_strategy_governance_decisions_total{action="REDUCE_SIZE"} 1');
    expect(metrics).toContain('warden_strategy_governance_decisions_total{action="PAUSE"} 1');
    expect(metrics).toContain('warden_strategy_governance_maturity_level{strategy="mr-1"} 4');
    expect(metrics).toContain('warden_strategy_governance_drift_deviation{strategy="mr-1",metric="sharpe"} 0.55');
    expect(metrics).toMatch(/warden_strategy_governance_gate_latency_ms\{quantile="0.99"\} [\d.]+/);
    // And as a histogram: typed so, every decision counted once, buckets cumulative up to +Inf.
    const decisions = [...metrics.matchAll(/^warden_strategy_governance_decisions_total\{[^}]*\} (\d+)$/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    expect(metrics).toContain('# TYPE warden_strategy_governance_gate_latency_seconds histogram');
    expect(metrics).toContain(`warden_strategy_governance_gate_latency_seconds_bucket{le="+Inf"} ${decisions}`);
    expect(metrics).toContain(`warden_strategy_governance_gate_latency_seconds_count ${decisions}`);
    const buckets = [
      ...metrics.matchAll(/^warden_strategy_governance_gate_latency_seconds_bucket\{le="[^"]+"\} (\d+)$/gm),
    ].map((m) => Number(m[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('trade outcomes feed the drift detector: a live win rate far below its backtest pauses the strategy', async () => {
    await strategy();
    await setDriftBaseline(t.db, { strategyId: 'mr-1', metric: 'win_rate', baselineValue: 0.6, actor: 'quant' });
    executeDeal.mockResolvedValue({ realizedLoss: 0, pnl: -2 });
    await (
      await worker()
    ).runUntil(async () => {
      expect(await warden.executeDeal(deal())).toMatchObject({ status: 'executed' });
      expect(await warden.executeDeal(deal())).toMatchObject({
        status: 'denied',
        gate: 'strategy',
        reason: 'pause',
        detail: expect.stringContaining('drift: drift beyond 50%'),
      });
    });
    expect(await t.db.selectFrom('drift_evaluation').select(['metric', 'live_value', 'action']).execute()).toEqual([
      { metric: 'win_rate', live_value: 0, action: 'PAUSE' },
    ]);
  });

  it('an L2 order waits for approveOrder, and times out without it', async () => {
    await strategy({ level: 'L2' });
    await (
      await worker()
    ).runUntil(async () => {
      const waiting = await warden.startDeal(deal());
      await expect
        .poll(async () => (await waiting.query(dealProgressQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_order_approval');
      await waiting.signal(approveOrderSignal, { approver: 'mallory', role: 'tech_lead' });
      await waiting.signal(approveOrderSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await waiting.result()).toMatchObject({ status: 'executed' });
      expect(await warden.executeDeal(deal({ orderApprovalTimeoutSeconds: 600 }))).toMatchObject({
        status: 'denied',
        gate: 'strategy',
        reason: 'approval_timeout',
      });
    });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(executeDeal).toHaveBeenCalledWith(expect.objectContaining({ amount: 10 }));
    expect((await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).map((e) => e.details.problem)).toEqual([
      'approver: mallory is not on the allowlist for tech_lead',
    ]);
  });

  it('a run whose order waits hands over to a new run after its message budget: nothing decided again, nothing lost', async () => {
    await strategy({ level: 'L2' });
    const flooded = deal({ messagesPerRun: 10 });
    await (
      await worker()
    ).runUntil(async () => {
      // The producer's one round trip waits through the hand-over: the new run answers it.
      const admission = warden.admitDeal(flooded);
      const handle = env.client.workflow.getHandle(`deal-${flooded.dealId}`);
      await expect
        .poll(async () => (await handle.query(dealProgressQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_order_approval');
      const firstRun = (await handle.describe()).runId;
      // A flood of refused approvals: one run used to keep them all, until the server's history limit ended
      // the deal. An engage meanwhile does not end it either: the next run decides nothing again.
      await t.db.updateTable('control_plane_state').set({ kill_switch_engaged: true }).execute();
      for (let i = 0; i < 10; i += 1)
        await handle.signal(approveOrderSignal, { approver: `spam-${i}`, role: 'tech_lead' });
      await expect.poll(async () => (await handle.describe()).runId, { timeout: 10_000 }).not.toBe(firstRun);
      expect(await handle.query(dealProgressQuery)).toMatchObject({
        stage: 'awaiting_order_approval',
        gates: [{ gate: 'control_plane', ok: true }],
      });
      await t.db.updateTable('control_plane_state').set({ kill_switch_engaged: false }).execute();
      await handle.signal(approveOrderSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await admission).toMatchObject({ outcome: 'admitted', dealId: flooded.dealId, applyMode: 'live' });
      expect(await handle.result()).toMatchObject({ status: 'executed' });
      const first = env.client.workflow.getHandle(handle.workflowId, firstRun);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      await record(handle.workflowId, 'deal-execution-order-rolled-over.json', firstRun);
      await record(handle.workflowId, 'deal-execution-order-continued.json');
    });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).toHaveLength(10);
    expect(await listAuditEvents(t.db, { kind: 'approval.waiting' })).toHaveLength(1);
  });

  it('a loss streak beyond 10 demotes at once and the next order is sized down', async () => {
    await strategy({ level: 'L4' });
    executeDeal.mockResolvedValue({ realizedLoss: 0, pnl: -1 });
    await (
      await worker()
    ).runUntil(async () => {
      for (let i = 0; i < 11; i++) expect(await warden.executeDeal(deal())).toMatchObject({ status: 'executed' });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L3' });
      const next = deal();
      expect(await warden.executeDeal(next)).toMatchObject({ status: 'executed' });
      // L3's 25% cap, and health after 11 losses in 20 (0.25 + 0.75 × 0.45).
      expect(await reserved(next.dealId)).toBe(Math.floor(100 * 0.25 * 0.5875 * 100) / 100);
    });
  });

  it('a paused strategy may close its position but not grow or flip it', async () => {
    await strategy({ paused: true, pausedReason: 'drift' });
    // The position is Warden's own (the payload's `position` is ignored): long 100 in each deal's symbol.
    const holding = (d: DealInput) =>
      reconcilePosition(t.db, {
        scope: 'strategy',
        scopeId: 'mr-1',
        symbol: d.symbol,
        quantity: 100,
        actor: 'ops',
        reason: 'opening book',
      }).then(() => d);
    await (
      await worker()
    ).runUntil(async () => {
      expect(await warden.executeDeal(await holding(deal({ side: 'sell', amount: 100 })))).toMatchObject({
        status: 'executed',
      });
      expect(await warden.executeDeal(await holding(deal({ side: 'sell', amount: 150 })))).toMatchObject({
        status: 'denied',
        gate: 'strategy',
        reason: 'pause',
      });
      expect(await warden.executeDeal(await holding(deal({ side: 'buy' })))).toMatchObject({
        status: 'denied',
        reason: 'pause',
      });
    });
  });

  it('L0 records only and L1 trades on paper: neither reaches the executor', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      await strategy({ level: 'L0' });
      expect(await warden.executeDeal(deal())).toMatchObject({ status: 'shadow', strategyId: 'mr-1' });
      // A level is not an upsert's to change: a second strategy, seeded at L1.
      await strategy({ id: 'mr-paper', level: 'L1' });
      const paper = deal({ strategyId: 'mr-paper' });
      expect(await warden.executeDeal(paper)).toMatchObject({ status: 'paper' });
      expect(
        await t.db
          .selectFrom('risk_reservation')
          .select('status')
          .where('idempotency_key', '=', `deal:${paper.dealId}`)
          .executeTakeFirst(),
      ).toEqual({ status: 'released' });
    });
    expect(executeDeal).not.toHaveBeenCalled();
  });

  it('checks scoped tokens: missing, out of scope, over notional, revoked one by one and in bulk', async () => {
    await strategy({ tokenRequired: true });
    const token = await issueToken(t.db, {
      strategyId: 'mr-1',
      symbols: ['BTCUSDT'],
      maxNotional: 500,
      actions: ['buy'],
      ttlSeconds: 3600,
      actor: 'ops',
    });
    await (
      await worker()
    ).runUntil(async () => {
      expect(await warden.executeDeal(deal())).toMatchObject({
        status: 'denied',
        gate: 'strategy',
        reason: 'block',
        detail: 'token: token_missing',
      });
      expect(await warden.executeDeal(deal({ symbol: 'ETHUSDT', executionTokenId: token.id }))).toMatchObject({
        detail: 'token: token_symbol_out_of_scope',
      });
      expect(
        await warden.executeDeal(deal({ symbol: 'BTCUSDT', executionTokenId: token.id, amount: 501 })),
      ).toMatchObject({ detail: 'token: token_notional_exceeded' });
      expect(await warden.executeDeal(deal({ symbol: 'BTCUSDT', executionTokenId: token.id }))).toMatchObject({
        status: 'executed',
      });
      expect(await revokeTokens(t.db, { tokenId: token.id }, 'ops')).toBe(1);
      expect(await warden.executeDeal(deal({ symbol: 'BTCUSDT', executionTokenId: token.id }))).toMatchObject({
        detail: 'token: token_revoked',
      });
      const more = await Promise.all(
        [1, 2].map(() =>
          issueToken(t.db, {
            strategyId: 'mr-1',
            symbols: ['*'],
            maxNotional: 500,
            actions: ['buy', 'sell'],
            ttlSeconds: 3600,
            actor: 'ops',
          }),
        ),
      );
      expect(await revokeTokens(t.db, { strategyId: 'mr-1' }, 'ops')).toBe(2);
      expect(await warden.executeDeal(deal({ executionTokenId: more[1]!.id }))).toMatchObject({
        detail: 'token: token_revoked',
      });
    });
    expect((await listAuditEvents(t.db, { kind: 'token.used' })).length).toBe(1);
  });

  it('a failing canary makes the gate KILL: the kill switch is engaged', async () => {
    await strategy();
    await t.db
      .insertInto('canary_check_state')
      .values({
        name: 'exchange',
        consecutive_failures: 3,
        last_ok: false,
        last_error: 'refused',
        last_checked_at: new Date(),
      })
      .execute();
    const locked = new WardenClient(new Client({ connection: env.connection }), taskQueue);
    await (
      await worker()
    ).runUntil(async () => {
      expect(await locked.executeDeal(deal())).toMatchObject({ status: 'denied', gate: 'strategy', reason: 'kill' });
      await expect
        .poll(async () => (await readControlPlaneState(t.db)).killSwitchEngaged, { timeout: 10_000 })
        .toBe(true);
    });
  });

  /** The L3 promotion the deal's evidence raised, once it waits for a decision. */
  const pendingPromotion = async () => {
    const proposal = env.client.workflow.getHandle(promotionWorkflowId('mr-1', 'L3'));
    await expect
      .poll(async () => (await proposal.query(promotionStatusQuery).catch(() => undefined))?.status, {
        timeout: 10_000,
      })
      .toBe('pending');
    return proposal;
  };

  it('evidence raises a promotion proposal that an operator approves by signal', async () => {
    await strategy({ level: 'L2' });
    // 50 trades at L2: 30 wins of 10, 20 losses of 5 → win rate 0.6, profit factor 3.
    for (let i = 0; i < 50; i++)
      await t.db
        .insertInto('strategy_outcome')
        .values({ strategy_id: 'mr-1', deal_id: `hist-${i}`, pnl: i % 5 < 3 ? 10 : -5, at: new Date() })
        .execute();
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await warden.startDeal(deal());
      await expect
        .poll(async () => (await handle.query(dealProgressQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_order_approval');
      await handle.signal(approveOrderSignal, { approver: 'alice', role: 'tech_lead' });
      // Approved while it waits: awaiting a result lets the time-skipping server jump past its 7-day expiry.
      const proposal = await pendingPromotion();
      await proposal.signal(approvePromotionSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await handle.result()).toMatchObject({ status: 'executed' });
      expect(await proposal.result()).toMatchObject({ status: 'promoted', from: 'L2', to: 'L3', decidedBy: 'alice' });
      await record(proposal.workflowId, 'strategy-promotion-promoted.json');
    });
    expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L3' });
  });

  it('a promotion hands over to a new run after its message budget: refusals and the decision carry on, announced once', async () => {
    await strategy({ level: 'L2' });
    await recordPromotion(t.db, {
      strategyId: 'mr-1',
      from: 'L2',
      to: 'L3',
      evidence: {},
      expiresInDays: 7,
      requestedBy: 'strategy-gate',
    });
    await (
      await worker()
    ).runUntil(async () => {
      const promotion = await env.client.workflow.start('strategyPromotion', {
        taskQueue,
        workflowId: promotionWorkflowId('mr-1', 'L3'),
        args: [{ strategyId: 'mr-1', from: 'L2', to: 'L3', evidence: {}, approvers: {}, messagesPerRun: 10 }],
      });
      // A flood of refused approvals: one run used to keep them all, until the server's history limit ended it.
      for (let i = 0; i < 12; i += 1) await promotion.signal('approvePromotion', { approver: `spam-${i}` });
      await expect
        .poll(async () => (await promotion.describe()).runId, { timeout: 10_000 })
        .not.toBe(promotion.firstExecutionRunId);
      const view = await promotion.query(promotionStatusQuery);
      expect(view).toMatchObject({ status: 'pending', from: 'L2', to: 'L3' });
      expect(view.refused).toHaveLength(12);
      expect(view.rejectedMessages).toBe(12);
      await promotion.signal(approvePromotionSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await promotion.result()).toMatchObject({ status: 'promoted', decidedBy: 'alice' });
      const first = env.client.workflow.getHandle(promotion.workflowId, promotion.firstExecutionRunId);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      await record(promotion.workflowId, 'strategy-promotion-rolled-over.json', promotion.firstExecutionRunId);
      await record(promotion.workflowId, 'strategy-promotion-continued.json');
    });
    expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L3' });
    // The approval-waiting notice went out once, from the first run.
    expect((await listAuditEvents(t.db)).filter((e) => e.kind === 'approval.waiting')).toHaveLength(1);
  });

  it('signed approvals: order and promotion approvals without a valid token are refused and audited; signed ones count', async () => {
    const keys = testApprovalKeys();
    // Each approval's token is for its own target: this deal's order, that promotion.
    const token = (workflowId: string) =>
      keys.issue(t.db, { subject: 'alice', roles: ['engineer'], audience: `${workflowId}:approve` });
    await strategy({ level: 'L2' });
    for (let i = 0; i < 50; i++)
      await t.db
        .insertInto('strategy_outcome')
        .values({ strategy_id: 'mr-1', deal_id: `hist-${i}`, pnl: i % 5 < 3 ? 10 : -5, at: new Date() })
        .execute();
    await (
      await worker({ ...TEST_SETTINGS, approvals: keys.settings('test').approvals })
    ).runUntil(async () => {
      const handle = await warden.startDeal(deal());
      await expect
        .poll(async () => (await handle.query(dealProgressQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_order_approval');
      await handle.signal(approveOrderSignal, { approver: 'alice', role: 'tech_lead' });
      await expect
        .poll(async () => (await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).length, {
          timeout: 10_000,
        })
        .toBe(1);
      expect((await handle.query(dealProgressQuery)).stage).toBe('awaiting_order_approval');
      await handle.signal(approveOrderSignal, {
        approver: 'alice',
        role: 'tech_lead',
        token: await token(handle.workflowId),
      });
      expect(await handle.result()).toMatchObject({ status: 'executed' });
      await record(handle.workflowId, 'deal-execution-strategy-at-once-approved.json');
      const proposal = env.client.workflow.getHandle(promotionWorkflowId('mr-1', 'L3'));
      await proposal.signal(approvePromotionSignal, { approver: 'alice', role: 'tech_lead' });
      await expect
        .poll(async () => (await proposal.query(promotionStatusQuery)).refused, { timeout: 10_000 })
        .toEqual([expect.stringMatching(/^token: signed approvals are on/)]);
      await proposal.signal(approvePromotionSignal, {
        approver: 'alice',
        role: 'tech_lead',
        token: await token(proposal.workflowId),
      });
      expect(await proposal.result()).toMatchObject({ status: 'promoted', decidedBy: 'alice' });
      await record(proposal.workflowId, 'strategy-promotion-signed.json');
    });
    const [refusal] = await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' });
    expect(refusal!.details).toMatchObject({
      message: 'approveOrder',
      problem: expect.stringMatching(/^token: signed approvals are on/),
    });
  });
});
