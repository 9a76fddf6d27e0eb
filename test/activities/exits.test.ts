import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { createDealActivities } from '../../activities/deal-gates';
import { listPositionDetails, reconcilePosition } from '../../src/db/positions.repository';
import { ledgerReport, listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import type { AdmitDealInput, DealExit } from '../../src/domain/deals/activities';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { utcDay } from '../../src/domain/risk/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

// Issue 17 on a real database: in reduce mode only exits of Warden's own positions pass, each holding its
// part of the position until it settles or is released; in any mode an exit takes no daily exposure.
const at = new Date();
const day = utcDay(at);
const gates = (t: TestDatabase) =>
  createDealActivities({
    db: t.db,
    governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 1000, maxPerHour: 1000 },
    controlPlane: {
      setApplyMode: vi.fn(async () => undefined),
      refreshCapitalBand: vi.fn(async () => undefined),
      engageKillSwitch: vi.fn(),
    },
  });
const position = { scope: 'engine' as const, scopeId: 'WHOLESALE', symbol: 'BTCUSDT' };

describe('exits and reduce mode on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    await t?.drop();
    t = await createTestDatabase();
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    await reconcilePosition(t.db, { ...position, quantity: 100, actor: 'ops', reason: 'opening long' });
  });
  afterAll(async () => {
    await t?.drop();
  });

  const trading = (mode: 'halt' | 'reduce' | null) =>
    t.db
      .updateTable('control_plane_state')
      .set({ kill_switch_engaged: mode !== null, kill_switch_mode: mode, kill_switch_source: 'operator' })
      .execute();
  const admit = (dealId: string, side: 'buy' | 'sell', amount: number, symbol = 'BTCUSDT') => {
    const input: AdmitDealInput = {
      dealId,
      engine: 'WHOLESALE',
      requestedClass: 'PROD_EXEC',
      executorTaskQueue: 'producer',
      ownTaskQueue: 'warden',
      clear: { key: `deal:${dealId}`, amount, symbol, actor: 'bot', at: at.toISOString(), side },
    };
    return gates(t).admitDeal(input);
  };
  const wholesale = async () => (await ledgerReport(t.db, day)).engines.find((e) => e.engine === 'WHOLESALE');
  const held = async () => (await listPositionDetails(t.db, { scope: 'engine' }))[0]!.heldByExits;

  it('in reduce mode: an exit passes without taking exposure; an add, a flip and a new position are denied reducing_only', async () => {
    await trading('reduce');
    expect((await admit('exit-half', 'sell', 50)).clearance).toMatchObject({ cleared: true });
    expect(await held()).toBe(50);
    // Open risk is reserved as for any deal; the daily exposure headroom is not touched.
    expect(await wholesale()).toMatchObject({ exposureUsed: 0, openRiskReserved: 50 });
    expect((await admit('add', 'buy', 10)).clearance).toMatchObject({
      cleared: false,
      gate: 'control_plane',
      reason: 'reducing_only',
      detail: expect.stringContaining('side: a buy adds to the long position 100'),
    });
    // 50 of the 100 are held by the first exit: 60 more would flip the position.
    expect((await admit('flip', 'sell', 60)).clearance).toMatchObject({
      reason: 'reducing_only',
      detail: expect.stringContaining('amount: 60 is more than the 50'),
    });
    expect((await admit('new', 'sell', 5, 'ETHUSDT')).clearance).toMatchObject({
      reason: 'reducing_only',
      detail: expect.stringContaining('no position to reduce'),
    });
    // Nothing denied holds anything.
    expect(await held()).toBe(50);
    expect(await wholesale()).toMatchObject({ openRiskReserved: 50, actions: 1 });
  });

  it('the last gate lets through only a deal admitted as an exit, and settling moves the position and ends the hold', async () => {
    const exit = await admit('exit', 'sell', 40);
    const other = await admit('before-reduce', 'buy', 10);
    await trading('reduce');
    const authorize = (dealId: string, permitId: string) =>
      gates(t).authorizeExecution({ permitId, dealId, executionClass: 'PROD_EXEC', at: new Date().toISOString() });
    if (!exit.clearance?.cleared || !other.clearance?.cleared) throw new Error('expected both cleared');
    expect(await authorize('before-reduce', other.clearance.permitId)).toMatchObject({
      authorized: false,
      reason: 'reducing_only',
      detail: expect.stringContaining('not admitted as an exit'),
    });
    expect(await authorize('exit', exit.clearance.permitId)).toMatchObject({ authorized: true, applyMode: 'live' });
    await gates(t).settleResult({
      key: 'deal:exit',
      realizedLoss: 0,
      actor: 'bot',
      position: { position, side: 'sell' },
    });
    const [after] = await listPositionDetails(t.db, { scope: 'engine' });
    expect(after).toMatchObject({ quantity: 60, heldByExits: 0 });
    expect(after!.changes.map((c) => [c.source, c.dealId, c.delta])).toEqual([
      ['deal', 'exit', -40],
      ['reconcile', null, 100],
    ]);
  });

  it('racing exits never hold more than the position: exactly ten of twenty sells of 10 against a long 100 pass', async () => {
    await trading('reduce');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => admit(`race-${i}`, 'sell', 10)));
    const cleared = answers.filter((a) => a.clearance?.cleared);
    expect(cleared).toHaveLength(10);
    expect(await held()).toBe(100);
  });

  it('a released exit gives its part of the position back to the next exit', async () => {
    await trading('reduce');
    expect((await admit('whole', 'sell', 100)).clearance).toMatchObject({ cleared: true });
    expect((await admit('late', 'sell', 30)).clearance).toMatchObject({ reason: 'reducing_only' });
    await gates(t).releaseReservation({ key: 'deal:whole', actor: 'bot', reason: 'executor refused' });
    expect(await held()).toBe(0);
    expect((await admit('late-again', 'sell', 30)).clearance).toMatchObject({ cleared: true });
  });

  it('halt denies every deal, exits too; the first check and executor retries read reduce mode the same way', async () => {
    await trading('halt');
    expect((await admit('exit-halted', 'sell', 10)).clearance).toMatchObject({
      gate: 'control_plane',
      reason: 'kill_switch_engaged',
    });
    await trading('reduce');
    const controlPlane = createControlPlaneActivities({ db: t.db });
    const deal = (side: 'buy' | 'sell', amount: number): DealExit => ({ dealId: 'checked', position, side, amount });
    expect(await controlPlane.checkControlPlane({ executionClass: 'PROD_EXEC', deal: deal('sell', 10) })).toMatchObject(
      { allowed: true },
    );
    expect(await controlPlane.checkControlPlane({ executionClass: 'PROD_EXEC', deal: deal('buy', 10) })).toMatchObject({
      allowed: false,
      reason: 'reducing_only',
    });
    // Without the deal (an old caller), nothing production passes in reduce mode; sandbox work does.
    expect(await controlPlane.checkControlPlane({ executionClass: 'PROD_EXEC' })).toMatchObject({ allowed: false });
    expect(await controlPlane.checkControlPlane({ executionClass: 'SANDBOX_EXEC' })).toMatchObject({ allowed: true });
  });

  it('a reached daily-loss cap stops exits too, unless the engine lets exits pass it', async () => {
    const loss = await admit('loser', 'buy', 10);
    if (!loss.clearance?.cleared) throw new Error('expected cleared');
    await gates(t).settleResult({
      key: 'deal:loser',
      realizedLoss: 200,
      actor: 'bot',
      position: { position, side: 'buy' },
    });
    expect((await admit('exit-capped', 'sell', 10)).clearance).toMatchObject({
      gate: 'risk',
      reason: 'daily_loss_limit_reached',
    });
    const policy = (await listRiskPolicies(t.db)).find((p) => p.engine === 'WHOLESALE')!;
    await upsertRiskPolicy(t.db, { ...policy, exitsIgnoreLossCap: true }, 'risk-officer');
    expect((await admit('exit-allowed', 'sell', 10)).clearance).toMatchObject({ cleared: true });
    // Only exits: an add is still stopped by the loss cap.
    expect((await admit('add-capped', 'buy', 10)).clearance).toMatchObject({ reason: 'daily_loss_limit_reached' });
  });
});
