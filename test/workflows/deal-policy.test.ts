import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { setExecutionPolicy } from '../../src/db/execution-policies.repository';
import { readPosition, reconcilePosition } from '../../src/db/positions.repository';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import type { ApplyMode, ExecutionClass } from '../../src/domain/control-plane/types';
import type { DealInput, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import type { MaturityLevel } from '../../src/domain/strategy/rules';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import {
  connectDevServer,
  createTestDatabase,
  type RunningWorker,
  runDevServerWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';
import { seedStrategy } from '../support/strategies';

// Issue 13 items 2 and 3: what a deal *is* — its class, the gates it needs,
// its position — comes from Warden's policy and records, never the payload.
// The producer's executor is a recording stub on its own task queue.
describe('what a deal is: engine execution policies and Warden’s positions', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let warden: WardenClient;
  const workers: RunningWorker[] = [];
  const taskQueue = uniqueName('deal-policy');
  const producerQueue = uniqueName('producer');
  const run = uniqueName('p');
  let n = 0;
  const executeDeal = vi.fn(async (input: ExecuteDealInput): Promise<ExecuteDealResult> => ({
    realizedLoss: 0,
    externalId: `fill-${input.dealId}`,
  }));
  // Nothing here may reach the control-plane workflow: the gates read its persisted state.
  const port = new Proxy(
    {},
    { get: (_, name) => (name === 'then' ? undefined : async () => undefined) },
  ) as ControlPlanePort;

  beforeAll(async () => {
    env = await connectDevServer();
    t = await createTestDatabase();
    warden = new WardenClient(env.client, taskQueue);
    workers.push(
      await runDevServerWorker({
        taskQueue,
        activities: createActivities({
          db: t.db,
          governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 1000, maxPerHour: 1000 },
          controlPlane: port,
        }),
      }),
      await runDevServerWorker({ taskQueue: producerQueue, activities: { executeDeal }, workflows: false }),
    );
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t?.drop();
    await env?.teardown();
  });
  beforeEach(async () => {
    executeDeal.mockClear();
    await arm({ goLive: true, applyMode: 'live' });
    for (const engine of ['WHOLESALE', 'CAPITAL'])
      await policy(engine, 'PROD_EXEC', { strategyRequired: false, recommendationRequired: false });
  });

  const arm = (s: { goLive: boolean; applyMode: ApplyMode; killSwitch?: boolean }) =>
    t.db
      .updateTable('control_plane_state')
      .set({ go_live_enabled: s.goLive, apply_mode: s.applyMode, kill_switch_engaged: s.killSwitch ?? false })
      .execute();
  const policy = (
    engine: string,
    executionClass: ExecutionClass,
    gates: { strategyRequired?: boolean; recommendationRequired?: boolean } = {},
  ) =>
    setExecutionPolicy(t.db, {
      engine,
      executionClass,
      strategyRequired: gates.strategyRequired ?? false,
      recommendationRequired: gates.recommendationRequired ?? false,
      actor: 'risk-officer',
      reason: 'test',
    });
  const deal = (over: Partial<DealInput> = {}): DealInput & { dealId: string; symbol: string } => ({
    dealId: `${run}-${++n}`,
    engine: 'WHOLESALE',
    symbol: `SYM${n}`,
    amount: 10,
    requestedBy: 'bot',
    executorTaskQueue: producerQueue,
    ...over,
  });
  const reservation = async (dealId: string) =>
    (
      await t.db
        .selectFrom('risk_reservation')
        .select('status')
        .where('idempotency_key', '=', `deal:${dealId}`)
        .executeTakeFirst()
    )?.status;
  // One strategy per level: a level changes only through promotion or demotion.
  const strategy = async (level: MaturityLevel, paused = true) => {
    await seedStrategy(
      t.db,
      {
        id: `${run}-${level}`,
        enabled: true,
        level,
        paused,
        pausedReason: paused ? 'drift' : null,
        capital: 100_000,
        tokenRequired: false,
        healthFloor: 0.25,
      },
      'setup',
      'test',
    );
    return `${run}-${level}`;
  };
  const hold = (strategyId: string, symbol: string, quantity: number) =>
    reconcilePosition(t.db, {
      scope: 'strategy',
      scopeId: strategyId,
      symbol,
      quantity,
      actor: 'ops',
      reason: 'opening book',
    });
  /** Saves a finished deal's history as a replay fixture (WARDEN_RECORD_HISTORIES=1). */
  const record = async (dealId: string, file: string) => {
    if (process.env.WARDEN_RECORD_HISTORIES !== '1') return;
    const history = await env.client.workflow.getHandle(`deal-${dealId}`).fetchHistory();
    writeFileSync(path.join(__dirname, '..', 'histories', file), historyToJSON(history));
  };

  it('OBSERVE_ONLY never reaches the executor: asked for on a PROD engine with go-live off, or set by policy', async () => {
    await arm({ goLive: false, applyMode: 'testnet' });
    const asked = deal({ executionClass: 'OBSERVE_ONLY' });
    expect(await warden.executeDeal(asked)).toMatchObject({ status: 'dry_run', applyMode: 'dry_run' });
    expect(await reservation(asked.dealId)).toBe('released');
    await record(asked.dealId, 'deal-execution-policy-observe.json');

    await arm({ goLive: true, applyMode: 'live' });
    await policy('CAPITAL', 'OBSERVE_ONLY');
    const byPolicy = deal({ engine: 'CAPITAL', executionClass: 'PROD_EXEC' });
    expect(await warden.executeDeal(byPolicy)).toMatchObject({ status: 'dry_run' });
    expect(await reservation(byPolicy.dealId)).toBe('released');
    expect(executeDeal).not.toHaveBeenCalled();
  });

  it('SANDBOX_EXEC never executes live; a producer claiming PROD_EXEC for a SANDBOX engine gets SANDBOX', async () => {
    const asked = deal({ executionClass: 'SANDBOX_EXEC' });
    expect(await warden.executeDeal(asked)).toMatchObject({ status: 'executed', applyMode: 'testnet' });
    expect(executeDeal).toHaveBeenLastCalledWith(
      expect.objectContaining({ dealId: asked.dealId, applyMode: 'testnet', executionClass: 'SANDBOX_EXEC' }),
    );
    await record(asked.dealId, 'deal-execution-policy-sandbox.json');

    await policy('CAPITAL', 'SANDBOX_EXEC');
    const claimed = deal({ engine: 'CAPITAL', executionClass: 'PROD_EXEC' });
    expect(await warden.executeDeal(claimed)).toMatchObject({ status: 'executed', applyMode: 'testnet' });
    expect(executeDeal).toHaveBeenLastCalledWith(
      expect.objectContaining({ dealId: claimed.dealId, applyMode: 'testnet', executionClass: 'SANDBOX_EXEC' }),
    );
    expect(executeDeal.mock.calls.map(([input]) => input.applyMode)).not.toContain('live');
    // A PROD engine's deal still runs in the control plane's mode, and says so.
    const prod = deal();
    expect(await warden.executeDeal(prod)).toMatchObject({ status: 'executed', applyMode: 'live' });
    expect(executeDeal).toHaveBeenLastCalledWith(expect.objectContaining({ executionClass: 'PROD_EXEC' }));
  });

  it('a deal without the strategy or recommendation its engine requires is denied before anything is reserved', async () => {
    await policy('WHOLESALE', 'PROD_EXEC', { strategyRequired: true });
    const noStrategy = deal();
    expect(await warden.executeDeal(noStrategy)).toMatchObject({
      status: 'denied',
      gate: 'policy',
      reason: 'strategy_required',
    });
    // Naming a strategy Warden has never heard of does not count.
    const madeUp = deal({ strategyId: 'made-up' });
    expect(await warden.executeDeal(madeUp)).toMatchObject({ status: 'denied', reason: 'strategy_required' });
    await policy('WHOLESALE', 'PROD_EXEC', { recommendationRequired: true });
    const noRecommendation = deal();
    expect(await warden.executeDeal(noRecommendation)).toMatchObject({
      status: 'denied',
      gate: 'policy',
      reason: 'recommendation_required',
    });
    for (const d of [noStrategy, madeUp, noRecommendation]) expect(await reservation(d.dealId)).toBeUndefined();
    expect(executeDeal).not.toHaveBeenCalled();
  });

  it('a required strategy disabled between admission and the strategy gate is a denial, not a pass; an engage never waits for that gate', async () => {
    await policy('CAPITAL', 'PROD_EXEC', { strategyRequired: true });
    const strategyId = `${run}-racing`;
    const define = (enabled: boolean) =>
      seedStrategy(
        t.db,
        {
          id: strategyId,
          enabled,
          level: 'L3',
          paused: false,
          pausedReason: null,
          capital: 100_000,
          tokenRequired: false,
          healthFloor: 0.25,
        },
        'ops',
        'test',
      );
    await define(true);
    // An operator disables the strategy as the deal is admitted: the disable holds the strategy's row when
    // admission reads the strategy (as it was) and commits while admission's strategy gate waits for it.
    const operator = await t.db.startTransaction().execute();
    await operator.updateTable('strategy').set({ enabled: false }).where('id', '=', strategyId).execute();
    const raced = deal({ engine: 'CAPITAL', strategyId });
    const result = warden.executeDeal(raced);
    try {
      await vi.waitFor(
        async () => {
          const { rows } = await sql<{ waiting: string }>`
            select count(*) as waiting from pg_stat_activity
            where wait_event_type = 'Lock' and datname = current_database()`.execute(t.db);
          expect(Number(rows[0]!.waiting)).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 50 },
      );
      // Meanwhile an engage takes the control plane's row (FOR UPDATE, as it does) at once: a deal waiting
      // at its strategy gate holds nothing of the control plane (it did hold it FOR SHARE, and an engage
      // then waited for the strategy's row to come free).
      const engage = t.db.transaction().execute(async (trx) => {
        await sql`set local lock_timeout = '2s'`.execute(trx);
        return trx.selectFrom('control_plane_state').select('version').forUpdate().execute();
      });
      await expect(engage).resolves.toHaveLength(1);
    } finally {
      await operator.commit().execute();
    }
    expect(await result).toMatchObject({ status: 'denied', gate: 'strategy', reason: 'strategy_required' });
    expect(await reservation(raced.dealId)).toBeUndefined();
    expect(executeDeal).not.toHaveBeenCalled();
  });

  it('the reduce-only exemption follows Warden’s position, never the payload’s, and executed deals move it once', async () => {
    const strategyId = await strategy('L3');
    // The payload claims a long position of 100: on its own word the paused strategy may not sell.
    const claimed = deal({ strategyId, side: 'sell', position: 100, amount: 100 });
    expect(await warden.executeDeal(claimed)).toMatchObject({ status: 'denied', gate: 'strategy', reason: 'pause' });
    // Warden holds 100: the same exit now goes, and the fill brings the position back to flat.
    const exit = deal({ strategyId, side: 'sell', amount: 100 });
    await hold(strategyId, exit.symbol, 100);
    expect(await warden.executeDeal(exit)).toMatchObject({ status: 'executed' });
    expect(await readPosition(t.db, { scope: 'strategy', scopeId: strategyId, symbol: exit.symbol })).toBe(0);
    // A deal without a strategy moves its engine's position, exactly once.
    const buy = deal({ side: 'buy', amount: 25 });
    expect(await warden.executeDeal(buy)).toMatchObject({ status: 'executed' });
    expect(await readPosition(t.db, { scope: 'engine', scopeId: 'WHOLESALE', symbol: buy.symbol })).toBe(25);
    expect(
      await t.db.selectFrom('position_event').select(['source', 'delta']).where('symbol', '=', buy.symbol).execute(),
    ).toEqual([{ source: 'deal', delta: 25 }]);
    expect(executeDeal).toHaveBeenCalledTimes(2);
  });

  it('a reduce-only exit never lets an L0 or L1 strategy reach the executor', async () => {
    for (const [level, status] of [
      ['L0', 'shadow'],
      ['L1', 'paper'],
    ] as const) {
      const strategyId = await strategy(level);
      const exit = deal({ strategyId, side: 'sell', position: 100, amount: 50 });
      await hold(strategyId, exit.symbol, 100);
      expect(await warden.executeDeal(exit)).toMatchObject({ status });
    }
    expect(executeDeal).not.toHaveBeenCalled();
  });
});
