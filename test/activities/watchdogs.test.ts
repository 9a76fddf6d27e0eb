import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDealActivities } from '../../activities/deal-gates';
import { createWatchdogActivities } from '../../activities/watchdogs';
import { listAuditEvents } from '../../src/db/audit.repository';
import { openDatabase } from '../../src/db/connect';
import { recordKpiEvent } from '../../src/db/kpi.repository';
import { evaluateStrategyDrift, setDriftBaseline } from '../../src/db/strategy-drift.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import {
  applyRestriction,
  clearRestriction,
  listRegressionPolicies,
  listRestrictions,
  regressionStates,
  resetTripwire,
  setRegressionPolicy,
} from '../../src/db/watchdogs.repository';
import { createTestDatabase, type TestDatabase } from '../helpers';

// Only the control plane's port is stubbed: the tripwire nudges the capital band through it.
const controlPlane = () => ({
  setApplyMode: vi.fn(async () => undefined),
  engageKillSwitch: vi.fn(async () => undefined),
  refreshCapitalBand: vi.fn(async () => undefined),
  restrictEngine: vi.fn(async () => undefined),
});

/** A tripwire small enough to fill by hand: 5 recent events against the 10 before them. */
const SMALL_TRIPWIRE = {
  domain: 'WHOLESALE',
  metric: 'contract_rate',
  engine: 'WHOLESALE',
  windowEvents: 5,
  baselineEvents: 10,
  maxDropFraction: 0.2,
  action: 'THROTTLE' as const,
  enabled: true,
};

describe('watchdog activities on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });

  const kpis = async (domain: string, metric: string, outcomes: boolean[], start: number) => {
    for (const [i, success] of outcomes.entries()) {
      await recordKpiEvent(t.db, { domain, metric, success, at: new Date(start + i * 1000), source: 'test' });
    }
  };
  const deals = () =>
    createDealActivities({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: controlPlane() });
  const watchdogs = (port = controlPlane()) =>
    createWatchdogActivities({ db: t.db, controlPlane: port, pingTemporal: async () => undefined });
  const reserve = (key: string, engine: string) =>
    deals().reserveExposure({ key, engine, amount: 10, actor: 'test', at: new Date().toISOString() });

  it("seeds seed 000's regression policies, disabled", async () => {
    expect(await listRegressionPolicies(t.db)).toEqual([
      {
        domain: 'BUYER_MATCH',
        metric: 'match_success',
        engine: 'BUYER_MATCH',
        windowEvents: 50,
        baselineEvents: 200,
        maxDropFraction: 0.25,
        action: 'THROTTLE',
        enabled: false,
      },
      {
        domain: 'CAPITAL',
        metric: 'roi_event',
        engine: 'CAPITAL',
        windowEvents: 50,
        baselineEvents: 200,
        maxDropFraction: 0.3,
        action: 'KILL_SWITCH',
        enabled: false,
      },
      {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        windowEvents: 50,
        baselineEvents: 200,
        maxDropFraction: 0.2,
        action: 'THROTTLE',
        enabled: false,
      },
      {
        domain: 'WHOLESALE',
        metric: 'offer_accept_rate',
        engine: 'WHOLESALE',
        windowEvents: 50,
        baselineEvents: 200,
        maxDropFraction: 0.15,
        action: 'THROTTLE',
        enabled: false,
      },
    ]);
    expect(await watchdogs().evaluateRegressionPolicies({ at: new Date().toISOString() })).toEqual({
      evaluated: [],
      fired: [],
    });
  });

  it('fires once on a drop, records too-few-events, and a reset lifts its throttle', async () => {
    const policy = SMALL_TRIPWIRE;
    await setRegressionPolicy(t.db, policy, 'alice');
    const t0 = Date.parse('2026-11-24T08:00:00Z');
    await kpis('WHOLESALE', 'contract_rate', Array(10).fill(true), t0);
    expect(
      (await watchdogs().evaluateRegressionPolicies({ at: new Date(t0 + 60_000).toISOString() })).evaluated,
    ).toEqual([
      {
        policy: 'WHOLESALE/contract_rate',
        decision: 'insufficient_data',
        baseline: null,
        current: null,
        dropFraction: null,
      },
    ]);
    await kpis('WHOLESALE', 'contract_rate', [true, false, true, false, true], t0 + 10_000); // 60% after 100%
    const report = await watchdogs().evaluateRegressionPolicies({ at: new Date(t0 + 60_000).toISOString() });
    expect(report.fired).toEqual([
      {
        policy: 'WHOLESALE/contract_rate',
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        action: 'THROTTLE',
        baseline: 1,
        current: 0.6,
        dropFraction: 0.4,
      },
    ]);
    expect((await watchdogs().evaluateRegressionPolicies({ at: new Date(t0 + 120_000).toISOString() })).fired).toEqual(
      [],
    );
    expect(await regressionStates(t.db)).toMatchObject([
      { policy: 'WHOLESALE/contract_rate', triggered: true, lastDecision: 'still_triggered', dropFraction: 0.4 },
    ]);

    await applyRestriction(t.db, {
      engine: 'WHOLESALE',
      kind: 'throttle',
      source: 'tripwire:WHOLESALE/contract_rate',
      reason: 'drop 40%',
      actor: 'tripwire',
    });
    await applyRestriction(t.db, {
      engine: 'WHOLESALE',
      kind: 'throttle',
      source: 'tripwire:WHOLESALE/contract_rate',
      reason: 'again',
      actor: 'tripwire',
    });
    expect(await listRestrictions(t.db)).toHaveLength(1);
    expect(await reserve('w1', 'WHOLESALE')).toMatchObject({ ok: false, reason: 'policy_disabled' });

    const reset = await resetTripwire(
      t.db,
      { domain: 'WHOLESALE', metric: 'contract_rate' },
      'bob',
      'reviewed: data glitch',
    );
    expect(reset.lifted).toHaveLength(1);
    expect(await listRestrictions(t.db)).toEqual([]);
    expect(await reserve('w2', 'WHOLESALE')).toMatchObject({ ok: true });
    expect(await regressionStates(t.db)).toMatchObject([{ triggered: false, lastDecision: 'reset' }]);
    expect((await listAuditEvents(t.db)).map((e) => e.kind).reverse()).toEqual([
      'tripwire.policy_set',
      'tripwire.triggered',
      'restriction.throttle_applied',
      'risk.reserve_denied',
      'restriction.throttle_cleared',
      'tripwire.reset',
      'risk.reserve',
    ]);
    await expect(resetTripwire(t.db, { domain: 'NOPE', metric: 'x' }, 'bob', 'r')).rejects.toThrow(
      /no regression policy NOPE\/x/,
    );
  });

  it('a baseline reset pins the good week: a slow drift the rolling baseline follows still fires', async () => {
    const policy = SMALL_TRIPWIRE;
    const t0 = Date.parse('2026-11-24T08:00:00Z');
    const eighty = Array(3).fill([true, true, true, true, false]).flat();
    // A good week at 100%, then 15 events at 80%: the rolling baseline has followed the drift down.
    await kpis('WHOLESALE', 'contract_rate', Array(10).fill(true), t0);
    await kpis('WHOLESALE', 'contract_rate', eighty, t0 + 20_000);
    const at = new Date(t0 + 120_000).toISOString();
    await setRegressionPolicy(t.db, policy, 'alice');
    expect((await watchdogs().evaluateRegressionPolicies({ at })).evaluated).toMatchObject([
      { policy: 'WHOLESALE/contract_rate', decision: 'ok', baseline: 0.8, current: 0.8 },
    ]);
    await setRegressionPolicy(t.db, { ...policy, baselineSince: new Date(t0).toISOString() }, 'alice');
    expect((await watchdogs().evaluateRegressionPolicies({ at })).fired).toMatchObject([
      { policy: 'WHOLESALE/contract_rate', baseline: 1, current: 0.8, dropFraction: 0.2 },
    ]);
  });

  it('a baseline reset without a full baseline and window after it decides nothing', async () => {
    const policy = SMALL_TRIPWIRE;
    const t0 = Date.parse('2026-11-24T08:00:00Z');
    await kpis('WHOLESALE', 'contract_rate', Array(20).fill(true), t0);
    await kpis('WHOLESALE', 'contract_rate', Array(12).fill(false), t0 + 60_000);
    await setRegressionPolicy(t.db, { ...policy, baselineSince: new Date(t0 + 60_000).toISOString() }, 'alice');
    expect(
      (await watchdogs().evaluateRegressionPolicies({ at: new Date(t0 + 120_000).toISOString() })).evaluated,
    ).toMatchObject([{ decision: 'insufficient_data' }]);
  });

  it('a pause holds new reserves while one already reserved settles', async () => {
    expect(await reserve('before', 'CAPITAL')).toMatchObject({ ok: true });
    const pause = await applyRestriction(t.db, {
      engine: 'CAPITAL',
      kind: 'pause',
      source: 'tripwire:CAPITAL/roi_event',
      reason: 'roi drop',
      actor: 'tripwire',
    });
    expect(await reserve('during', 'CAPITAL')).toMatchObject({ ok: false, scope: 'CAPITAL', reason: 'engine_paused' });
    expect(await reserve('other', 'WHOLESALE')).toMatchObject({ ok: true });
    expect(await deals().settleResult({ key: 'before', realizedLoss: 1, actor: 'test' })).toMatchObject({
      status: 'settled',
    });
    await clearRestriction(t.db, pause.id, 'bob', 'roi recovered');
    expect(await reserve('after', 'CAPITAL')).toMatchObject({ ok: true });
    await expect(clearRestriction(t.db, pause.id, 'bob', 'twice')).rejects.toThrow(/no active restriction/);
    await deals().releaseReservation({ key: 'after', actor: 'test', reason: 'cleanup' });
  });

  it('a throttle survives closing and reopening the database', async () => {
    await applyRestriction(t.db, {
      engine: 'CAPITAL',
      kind: 'throttle',
      source: 'operator:alice',
      reason: 'maintenance',
      actor: 'alice',
    });
    const reopened = await openDatabase({ databaseUrl: t.url, dataDir: '.data' });
    try {
      expect(
        await createDealActivities({
          db: reopened.db,
          governor: DEFAULT_GOVERNOR_SETTINGS,
          controlPlane: controlPlane(),
        }).reserveExposure({ key: 'r', engine: 'CAPITAL', amount: 1, actor: 'x', at: new Date().toISOString() }),
      ).toMatchObject({ ok: false, reason: 'policy_disabled' });
      expect(await listRestrictions(reopened.db)).toMatchObject([
        { engine: 'CAPITAL', kind: 'throttle', source: 'operator:alice' },
      ]);
    } finally {
      await reopened.close();
    }
  });

  it('stores drift baselines and evaluations', async () => {
    expect(
      await evaluateStrategyDrift(t.db, { strategyId: 'mean-rev-1', metric: 'sharpe', liveValue: 1 }),
    ).toBeUndefined();
    await setDriftBaseline(t.db, { strategyId: 'mean-rev-1', metric: 'sharpe', baselineValue: 2, actor: 'quant' });
    expect(await evaluateStrategyDrift(t.db, { strategyId: 'mean-rev-1', metric: 'sharpe', liveValue: 1.4 })).toEqual({
      deviation: 0.3,
      action: 'OK',
      baselineValue: 2,
    });
    expect(
      await evaluateStrategyDrift(t.db, { strategyId: 'mean-rev-1', metric: 'sharpe', liveValue: 1 }),
    ).toMatchObject({ action: 'REDUCE_SIZE' });
    expect(
      await evaluateStrategyDrift(t.db, { strategyId: 'mean-rev-1', metric: 'sharpe', liveValue: 0.9 }),
    ).toMatchObject({ action: 'PAUSE' });
    expect(await t.db.selectFrom('drift_evaluation').select('action').orderBy('id').execute()).toEqual([
      { action: 'OK' },
      { action: 'REDUCE_SIZE' },
      { action: 'PAUSE' },
    ]);
  });

  it('engages the kill switch through the control-plane port, naming the watchdog', async () => {
    const port = controlPlane();
    await watchdogs(port).engageKillSwitch({ source: 'canary', reason: 'postgres failing' });
    expect(port.engageKillSwitch).toHaveBeenCalledWith({
      source: 'canary',
      actor: 'canary',
      reason: 'postgres failing',
    });
  });
});
