import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/db/audit.repository';
import { ledgerReport, listRiskPolicies, releaseReservation, reserveExposure, settleResult, upsertRiskPolicy } from '../../src/db/risk.repository';
import { utcDay } from '../../src/domain/risk/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

const at = new Date('2026-11-24T12:00:00Z');
const day = utcDay(at);

describe('risk guard on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    await t?.drop();
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  const ledger = async (engine: string) => (await ledgerReport(t.db, day)).engines.find((e) => e.engine === engine);
  const reserve = (key: string, engine: string, amount: number) => reserveExposure(t.db, { key, engine, amount, actor: 'test', at });

  it('seeds the policies exactly as seed 000 lists them', async () => {
    expect(await listRiskPolicies(t.db)).toEqual([
      { engine: 'GLOBAL', maxDailyLoss: 250, maxDailyExposure: 1500, maxOpenRisk: null, maxActionsPerDay: null, enabled: true },
      { engine: 'CAPITAL', maxDailyLoss: 150, maxDailyExposure: 750, maxOpenRisk: 300, maxActionsPerDay: null, enabled: true },
      { engine: 'NOTIFY', maxDailyLoss: null, maxDailyExposure: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: false },
      { engine: 'WHOLESALE', maxDailyLoss: 200, maxDailyExposure: 1000, maxOpenRisk: 500, maxActionsPerDay: null, enabled: true },
    ]);
  });

  it('walks through seed 000 reserve → settle on the seed policies', async () => {
    // The seed's example size (15000) is above its own GLOBAL cap (1500): denied at step 1.
    expect(await reserve('seed-15000', 'WHOLESALE', 15000)).toMatchObject({ ok: false, scope: 'GLOBAL', reason: 'daily_exposure_exceeded' });
    // At a size the caps allow, steps 1–4: GLOBAL exposure, GLOBAL loss, WHOLESALE open risk, then reserve.
    expect(await reserve('seed-150', 'WHOLESALE', 150)).toMatchObject({ ok: true, engine: 'WHOLESALE', amount: 150, day });
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 150, openRiskReserved: 150, realizedLoss: 0, actions: 1 });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 150, openRiskReserved: 150, actions: 1 });
    // settle_result(reserved=150, realized_loss=5): the reserve is released and the loss booked.
    expect(await settleResult(t.db, { key: 'seed-150', realizedLoss: 5, actor: 'test' })).toEqual({ key: 'seed-150', status: 'settled', amount: 150, realizedLoss: 5 });
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 150, openRiskReserved: 0, realizedLoss: 5, actions: 1 });
    // Settling again (a retry) changes nothing.
    await settleResult(t.db, { key: 'seed-150', realizedLoss: 5, actor: 'test' });
    expect(await ledger('GLOBAL')).toMatchObject({ openRiskReserved: 0, realizedLoss: 5 });
    const report = await ledgerReport(t.db, day);
    expect(report.denials).toEqual([{ engine: 'WHOLESALE', reason: 'daily_exposure_exceeded', count: 1 }]);
    const events = await t.db.selectFrom('risk_event').select(['kind', 'ok', 'reason']).orderBy('id').execute();
    expect(events).toEqual([
      { kind: 'RESERVE', ok: false, reason: 'daily_exposure_exceeded' },
      { kind: 'RESERVE', ok: true, reason: null },
      { kind: 'SETTLE', ok: true, reason: null },
    ]);
    // Both reserve decisions are on the audit chain; the settle is a booking, in risk_event.
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 2 });
  });

  it('applies dual control: the engine cap, then the GLOBAL cap across engines', async () => {
    expect(await reserve('w1', 'WHOLESALE', 500)).toMatchObject({ ok: true });
    expect(await reserve('w2', 'WHOLESALE', 0.01)).toMatchObject({ ok: false, scope: 'WHOLESALE', reason: 'open_risk_exceeded' });
    await settleResult(t.db, { key: 'w1', realizedLoss: 0, actor: 'test' });
    expect(await reserve('w3', 'WHOLESALE', 500)).toMatchObject({ ok: true });
    expect(await reserve('w4', 'WHOLESALE', 0.01)).toMatchObject({ ok: false, scope: 'WHOLESALE', reason: 'daily_exposure_exceeded' });
    expect(await reserve('c1', 'CAPITAL', 300)).toMatchObject({ ok: true });
    await settleResult(t.db, { key: 'c1', realizedLoss: 0, actor: 'test' });
    expect(await reserve('c2', 'CAPITAL', 200)).toMatchObject({ ok: true });
    // GLOBAL has seen 1000 + 500 = 1500 now: its cap stops CAPITAL though CAPITAL's own is not reached.
    expect(await reserve('c3', 'CAPITAL', 0.01)).toMatchObject({ ok: false, scope: 'GLOBAL', reason: 'daily_exposure_exceeded' });
  });

  it('stops an engine whose loss limit is reached, and denies disabled or unknown engines', async () => {
    await reserve('c1', 'CAPITAL', 200);
    await settleResult(t.db, { key: 'c1', realizedLoss: 150, actor: 'test' });
    expect(await reserve('c2', 'CAPITAL', 10)).toMatchObject({ ok: false, scope: 'CAPITAL', reason: 'daily_loss_limit_reached' });
    expect(await reserve('n1', 'NOTIFY', 1)).toMatchObject({ ok: false, scope: 'NOTIFY', reason: 'policy_disabled' });
    expect(await reserve('x1', 'MARKETING', 1)).toMatchObject({ ok: false, scope: 'MARKETING', reason: 'policy_missing' });
    await upsertRiskPolicy(t.db, { engine: 'MARKETING', maxDailyLoss: 10, maxDailyExposure: 100, maxOpenRisk: null, maxActionsPerDay: 1, enabled: true }, 'alice');
    expect(await reserve('x2', 'MARKETING', 1)).toMatchObject({ ok: true });
    expect(await reserve('x3', 'MARKETING', 1)).toMatchObject({ ok: false, reason: 'daily_action_limit_reached' });
  });

  it('is idempotent per key: the first decision is returned and counted once', async () => {
    const first = await reserve('same', 'WHOLESALE', 100);
    const again = await reserve('same', 'WHOLESALE', 100);
    expect(again).toMatchObject({ ok: true, key: 'same', amount: 100 });
    expect(first.ok).toBe(true);
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 100, actions: 1 });
    const denied = await reserve('big', 'WHOLESALE', 5000);
    expect(await reserve('big', 'WHOLESALE', 5000)).toEqual({ ...denied, detail: 'decided earlier for this key' });
    expect(await t.db.selectFrom('risk_reservation').select(t.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).toEqual({ n: '2' });
  });

  it('release gives everything back exactly once and is a no-op afterwards', async () => {
    await reserve('r1', 'CAPITAL', 120);
    expect(await releaseReservation(t.db, { key: 'r1', actor: 'test', reason: 'denied later' })).toEqual({ key: 'r1', released: true, status: 'released' });
    expect(await releaseReservation(t.db, { key: 'r1', actor: 'test', reason: 'retry' })).toEqual({ key: 'r1', released: true, status: 'released' });
    expect(await releaseReservation(t.db, { key: 'never', actor: 'test', reason: 'x' })).toEqual({ key: 'never', released: false, status: 'missing' });
    expect(await ledger('CAPITAL')).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    await expect(settleResult(t.db, { key: 'r1', realizedLoss: 0, actor: 'test' })).rejects.toThrow(/is released; only a reserved one can settle/);
  });

  it('never overshoots a cap under 250 concurrent reserves, and exactly the affordable number succeed', async () => {
    // CAPITAL open risk 300 at 7 each: 42 fit (294), the 43rd would make 301.
    const results = await Promise.all(Array.from({ length: 250 }, (_, i) => reserve(`race-${i}`, 'CAPITAL', 7)));
    expect(results.filter((r) => r.ok)).toHaveLength(42);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'open_risk_exceeded')).toBe(true);
    expect(await ledger('CAPITAL')).toMatchObject({ openRiskReserved: 294, exposureUsed: 294, actions: 42 });
    // Retries of every key racing again change nothing.
    await Promise.all(Array.from({ length: 250 }, (_, i) => reserve(`race-${i}`, 'CAPITAL', 7)));
    expect(await ledger('CAPITAL')).toMatchObject({ openRiskReserved: 294, actions: 42 });
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 250 });
  });
});
