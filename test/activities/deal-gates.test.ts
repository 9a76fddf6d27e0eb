import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { createDealActivities } from '../../activities/deal-gates';
import { reserveExposure, reserveInTransaction } from '../../activities/gates/risk';
import { verifyAuditChain } from '../../src/db/audit.repository';
import {
  createRecommendation,
  evaluateDomainGate,
  listScorecards,
  recordSandboxTrial,
  setHeimdallPolicy,
} from '../../src/db/heimdall.repository';
import { listPermits } from '../../src/db/permits.repository';
import { ledgerReport, listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import { DEFAULT_GOVERNOR_SETTINGS, decidePermit } from '../../src/domain/permits/rules';
import { evaluateProdGate, type HeimdallPolicy } from '../../src/domain/prod-eligibility/rules';
import { utcDay } from '../../src/domain/risk/rules';
import { stripeOf } from '../../src/domain/risk/stripes';
import { createTestDatabase, type TestDatabase } from '../helpers';

// The deal gates through their activities, on a real database; only the control plane's port is stubbed.
const gates = (t: TestDatabase) =>
  createDealActivities({
    db: t.db,
    governor: DEFAULT_GOVERNOR_SETTINGS,
    controlPlane: {
      setApplyMode: vi.fn(async () => undefined),
      refreshCapitalBand: vi.fn(async () => undefined),
      engageKillSwitch: vi.fn(),
    },
  });

const at = new Date('2026-11-24T12:00:00Z');
const day = utcDay(at);
const t0 = new Date('2026-11-24T10:00:00Z').getTime();
const atMin = (minutes: number, seconds = 0) => new Date(t0 + minutes * 60_000 + seconds * 1000);

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
  const reserve = (key: string, engine: string, amount: number) =>
    gates(t).reserveExposure({ key, engine, amount, actor: 'test', at: at.toISOString() });

  it('seeds the policies exactly as seed 000 lists them', async () => {
    expect(await listRiskPolicies(t.db)).toEqual([
      {
        engine: 'GLOBAL',
        maxDailyLoss: 250,
        maxDailyExposure: 1500,
        maxOpenRisk: null,
        maxActionsPerDay: null,
        enabled: true,
      },
      {
        engine: 'CAPITAL',
        maxDailyLoss: 150,
        maxDailyExposure: 750,
        maxOpenRisk: 300,
        maxActionsPerDay: null,
        enabled: true,
      },
      {
        engine: 'NOTIFY',
        maxDailyLoss: null,
        maxDailyExposure: null,
        maxOpenRisk: null,
        maxActionsPerDay: null,
        enabled: false,
      },
      {
        engine: 'WHOLESALE',
        maxDailyLoss: 200,
        maxDailyExposure: 1000,
        maxOpenRisk: 500,
        maxActionsPerDay: null,
        enabled: true,
      },
    ]);
  });

  it('walks through seed 000 reserve → settle on the seed policies', async () => {
    // The seed's example size (15000) is above its own GLOBAL cap (1500): denied at step 1.
    expect(await reserve('seed-15000', 'WHOLESALE', 15000)).toMatchObject({
      ok: false,
      scope: 'GLOBAL',
      reason: 'daily_exposure_exceeded',
    });
    // At a size the caps allow, steps 1–4: GLOBAL exposure, GLOBAL loss, WHOLESALE open risk, then reserve.
    expect(await reserve('seed-150', 'WHOLESALE', 150)).toMatchObject({
      ok: true,
      engine: 'WHOLESALE',
      amount: 150,
      day,
    });
    expect(await ledger('WHOLESALE')).toMatchObject({
      exposureUsed: 150,
      openRiskReserved: 150,
      realizedLoss: 0,
      actions: 1,
    });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 150, openRiskReserved: 150, actions: 1 });
    // settle_result(reserved=150, realized_loss=5): the reserve is released and the loss booked.
    expect(await gates(t).settleResult({ key: 'seed-150', realizedLoss: 5, actor: 'test' })).toEqual({
      key: 'seed-150',
      status: 'settled',
      amount: 150,
      realizedLoss: 5,
    });
    expect(await ledger('WHOLESALE')).toMatchObject({
      exposureUsed: 150,
      openRiskReserved: 0,
      realizedLoss: 5,
      actions: 1,
    });
    // Settling again (a retry) changes nothing.
    await gates(t).settleResult({ key: 'seed-150', realizedLoss: 5, actor: 'test' });
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
    expect(await reserve('w2', 'WHOLESALE', 0.01)).toMatchObject({
      ok: false,
      scope: 'WHOLESALE',
      reason: 'open_risk_exceeded',
    });
    await gates(t).settleResult({ key: 'w1', realizedLoss: 0, actor: 'test' });
    expect(await reserve('w3', 'WHOLESALE', 500)).toMatchObject({ ok: true });
    expect(await reserve('w4', 'WHOLESALE', 0.01)).toMatchObject({
      ok: false,
      scope: 'WHOLESALE',
      reason: 'daily_exposure_exceeded',
    });
    expect(await reserve('c1', 'CAPITAL', 300)).toMatchObject({ ok: true });
    await gates(t).settleResult({ key: 'c1', realizedLoss: 0, actor: 'test' });
    expect(await reserve('c2', 'CAPITAL', 200)).toMatchObject({ ok: true });
    // GLOBAL has seen 1000 + 500 = 1500 now: its cap stops CAPITAL though CAPITAL's own is not reached.
    expect(await reserve('c3', 'CAPITAL', 0.01)).toMatchObject({
      ok: false,
      scope: 'GLOBAL',
      reason: 'daily_exposure_exceeded',
    });
  });

  it('stops an engine whose loss limit is reached, and denies disabled or unknown engines', async () => {
    await reserve('c1', 'CAPITAL', 200);
    await gates(t).settleResult({ key: 'c1', realizedLoss: 150, actor: 'test' });
    expect(await reserve('c2', 'CAPITAL', 10)).toMatchObject({
      ok: false,
      scope: 'CAPITAL',
      reason: 'daily_loss_limit_reached',
    });
    expect(await reserve('n1', 'NOTIFY', 1)).toMatchObject({ ok: false, scope: 'NOTIFY', reason: 'policy_disabled' });
    expect(await reserve('x1', 'MARKETING', 1)).toMatchObject({
      ok: false,
      scope: 'MARKETING',
      reason: 'policy_missing',
    });
    await upsertRiskPolicy(
      t.db,
      {
        engine: 'MARKETING',
        maxDailyLoss: 10,
        maxDailyExposure: 100,
        maxOpenRisk: null,
        maxActionsPerDay: 1,
        enabled: true,
      },
      'alice',
    );
    expect(await reserve('x2', 'MARKETING', 1)).toMatchObject({ ok: true });
    expect(await reserve('x3', 'MARKETING', 1)).toMatchObject({ ok: false, reason: 'daily_action_limit_reached' });
  });

  it('a settle that books a loss waits for a reserve in flight: the loss is never booked under a reserve that read the day without it', async () => {
    // Keys on other stripes (of every ledger): only the day's loss gate can order them.
    const keys = Array.from({ length: 64 }, (_, i) => `loss-${i}`);
    const booked = keys[0]!;
    const racing = keys.find((k) => stripeOf(k) !== stripeOf(booked))!;
    await reserve(booked, 'CAPITAL', 200);
    // A reserve in flight: decided, its transaction not yet committed.
    const inFlight = await t.db.startTransaction().execute();
    expect(
      await reserveInTransaction(inFlight, {
        key: racing,
        engine: 'CAPITAL',
        amount: 10,
        actor: 'test',
        at,
      }),
    ).toMatchObject({ ok: true });
    let settled = false;
    const settle = gates(t)
      .settleResult({ key: booked, realizedLoss: 150, actor: 'test' })
      .finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Booked now, the loss would reach CAPITAL's cap (150) under a reserve that read the day without it.
    expect(settled).toBe(false);
    await inFlight.commit().execute();
    expect(await settle).toMatchObject({ status: 'settled', realizedLoss: 150 });
    expect(await reserve('loss-after', 'CAPITAL', 10)).toMatchObject({ ok: false, reason: 'daily_loss_limit_reached' });
    // In the order the risk events were written, the reserve came before the loss.
    const events = await t.db.selectFrom('risk_event').select(['kind', 'idempotency_key']).orderBy('id').execute();
    expect(events.map((e) => `${e.kind} ${e.idempotency_key}`).slice(1, 3)).toEqual([
      `RESERVE ${racing}`,
      `SETTLE ${booked}`,
    ]);
  });

  it('a reserve whose home stripe another transaction holds takes a free stripe at once, and its settle gives that one back', async () => {
    await reserve('stripe-seed', 'CAPITAL', 1); // the day's stripes exist
    const key = 'stripe-racer';
    const home = stripeOf(key);
    // Another transaction holds the home stripe of both ledgers (GLOBAL's and CAPITAL's), and keeps it.
    const holder = await t.db.startTransaction().execute();
    await holder
      .selectFrom('risk_ledger_stripe')
      .select('stripe')
      .where('day', '=', day)
      .where('stripe', '=', home)
      .forUpdate()
      .execute();
    try {
      // Before today's change this waited for the holder: the race below settles which came first.
      const reserved = reserve(key, 'CAPITAL', 10);
      const first = await Promise.race([
        reserved.then(() => 'reserved'),
        new Promise((resolve) => setTimeout(() => resolve('waited'), 2000)),
      ]);
      expect(first).toBe('reserved');
      expect(await reserved).toMatchObject({ ok: true });
    } finally {
      await holder.rollback().execute();
    }
    const row = await t.db
      .selectFrom('risk_reservation')
      .select('stripe')
      .where('idempotency_key', '=', key)
      .executeTakeFirstOrThrow();
    expect(row.stripe).not.toBe(home);
    const onStripe = () =>
      t.db
        .selectFrom('risk_ledger_stripe')
        .select(['engine', 'open_risk_reserved'])
        .where('day', '=', day)
        .where('stripe', '=', row.stripe)
        .orderBy('engine')
        .execute();
    expect((await onStripe()).map((s) => [s.engine, Number(s.open_risk_reserved)])).toEqual([
      ['CAPITAL', 10 + (stripeOf('stripe-seed') === row.stripe ? 1 : 0)],
      ['GLOBAL', 10 + (stripeOf('stripe-seed') === row.stripe ? 1 : 0)],
    ]);
    await gates(t).settleResult({ key, realizedLoss: 0, actor: 'test' });
    expect((await onStripe()).map((s) => Number(s.open_risk_reserved))).toEqual(
      stripeOf('stripe-seed') === row.stripe ? [1, 1] : [0, 0],
    );
    expect(await ledger('CAPITAL')).toMatchObject({ exposureUsed: 11, openRiskReserved: 1, actions: 2 });
  });

  it("a reserve the day's totals refuse is refused at once, while another transaction holds every stripe", async () => {
    await reserve('totals-seed', 'CAPITAL', 290); // CAPITAL's open risk: 290 of 300
    const holder = await t.db.startTransaction().execute();
    await holder.selectFrom('risk_ledger_stripe').select('stripe').where('day', '=', day).forUpdate().execute();
    try {
      // Before today's change this locked every stripe in order to decide on the totals: it waited.
      const refused = reserve('totals-over', 'CAPITAL', 20);
      const first = await Promise.race([
        refused.then(() => 'decided'),
        new Promise((resolve) => setTimeout(() => resolve('waited'), 2000)),
      ]);
      expect(first).toBe('decided');
      expect(await refused).toMatchObject({ ok: false, scope: 'CAPITAL', reason: 'open_risk_exceeded' });
    } finally {
      await holder.rollback().execute();
    }
    // Nothing moved for it; what fits is still taken.
    expect(await ledger('CAPITAL')).toMatchObject({ openRiskReserved: 290, actions: 1 });
    expect(await reserve('totals-fits', 'CAPITAL', 10)).toMatchObject({ ok: true });
    expect(await ledger('CAPITAL')).toMatchObject({ openRiskReserved: 300, actions: 2 });
  });

  it('is idempotent per key: the first decision is returned and counted once', async () => {
    const first = await reserve('same', 'WHOLESALE', 100);
    const again = await reserve('same', 'WHOLESALE', 100);
    expect(again).toMatchObject({ ok: true, key: 'same', amount: 100 });
    expect(first.ok).toBe(true);
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 100, actions: 1 });
    const denied = await reserve('big', 'WHOLESALE', 5000);
    expect(await reserve('big', 'WHOLESALE', 5000)).toEqual({ ...denied, detail: 'decided earlier for this key' });
    expect(
      await t.db.selectFrom('risk_reservation').select(t.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ).toEqual({ n: '2' });
  });

  it('release gives everything back exactly once and is a no-op afterwards', async () => {
    await reserve('r1', 'CAPITAL', 120);
    expect(await gates(t).releaseReservation({ key: 'r1', actor: 'test', reason: 'denied later' })).toEqual({
      key: 'r1',
      released: true,
      status: 'released',
    });
    expect(await gates(t).releaseReservation({ key: 'r1', actor: 'test', reason: 'retry' })).toEqual({
      key: 'r1',
      released: true,
      status: 'released',
    });
    expect(await gates(t).releaseReservation({ key: 'never', actor: 'test', reason: 'x' })).toEqual({
      key: 'never',
      released: false,
      status: 'missing',
    });
    expect(await ledger('CAPITAL')).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 0, openRiskReserved: 0, actions: 0 });
    await expect(gates(t).settleResult({ key: 'r1', realizedLoss: 0, actor: 'test' })).rejects.toThrow(
      /is released; only a reserved one can settle/,
    );
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

  it('decides reserves asked at once in a few transactions, each engine exactly, a repeated key once', async () => {
    // Open risk fits 25 of 20 on WHOLESALE, 15 on CAPITAL; GLOBAL's exposure of 1,500 never binds (800).
    const asked = [
      ...Array.from({ length: 100 }, (_, i) => ({ key: `w-${i}`, engine: 'WHOLESALE' })),
      ...Array.from({ length: 60 }, (_, i) => ({ key: `c-${i}`, engine: 'CAPITAL' })),
      ...Array.from({ length: 20 }, (_, i) => ({ key: `w-${i}`, engine: 'WHOLESALE' })),
      ...Array.from({ length: 5 }, (_, i) => ({ key: `n-${i}`, engine: 'NOTIFY' })),
    ];
    const results = await Promise.all(asked.map(({ key, engine }) => reserve(key, engine, 20)));
    const granted = (prefix: string) =>
      new Set(results.filter((r) => r.ok && r.key.startsWith(prefix)).map((r) => r.key));
    expect(granted('w-').size).toBe(25);
    expect(granted('c-').size).toBe(15);
    expect(results.filter((r) => r.key.startsWith('n-')).every((r) => !r.ok && r.scope === 'NOTIFY')).toBe(true);
    // A key asked twice gets its first decision: one reservation, counted once.
    for (let i = 0; i < 20; i++) expect(results[160 + i]!.ok).toBe(results[i]!.ok);
    expect(await ledger('WHOLESALE')).toMatchObject({ openRiskReserved: 500, exposureUsed: 500, actions: 25 });
    expect(await ledger('CAPITAL')).toMatchObject({ openRiskReserved: 300, actions: 15 });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 800, actions: 40 });
    expect(await expectStripesExact('WHOLESALE', day, 100_000)).toEqual({ stripes: 8, used: 500 });
    // Each reserve its own transaction before: 165. Now a few groups (rows written together share xmin).
    const { rows } = await sql<{ reservations: number; transactions: number; events: number }>`
      select count(*)::int as reservations, count(distinct xmin::text)::int as transactions,
             (select count(*)::int from risk_event where kind = 'RESERVE') as events
      from risk_reservation`.execute(t.db);
    expect(rows[0]).toMatchObject({ reservations: 165, events: 165 });
    expect(rows[0]!.transactions).toBeLessThanOrEqual(12);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 165 });
  });

  it('a key asked twice at once is decided as first asked, and booked once', async () => {
    // The first few go alone at once; the rest, the repeated key among them, wait and go as one group.
    const asked = [
      ...Array.from({ length: 8 }, (_, i) => ({ key: `lead-${i}`, amount: 1 })),
      ...[5, 50].map((amount) => ({ key: 'twice', amount })),
    ];
    const results = await Promise.all(asked.map(({ key, amount }) => reserve(key, 'WHOLESALE', amount)));
    expect(results.slice(-2)).toEqual([
      expect.objectContaining({ ok: true, key: 'twice', amount: 5 }),
      expect.objectContaining({ ok: true, key: 'twice', amount: 5 }),
    ]);
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 13, actions: 9 });
  });

  it('fails only the reserve at fault when reserves are asked at once', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => (i === 17 ? 'bad-\u0000-key' : `fine-${i}`));
    const results = await Promise.allSettled(
      keys.map((key) => reserveExposure(t.db, { key, engine: 'WHOLESALE', amount: 5, actor: 'test', at })),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[17]!.status).toBe('rejected');
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.ok)).toHaveLength(29);
    expect(await ledger('WHOLESALE')).toMatchObject({ exposureUsed: 145, actions: 29 });
  });

  /** Every stripe of a day within its shares, and the shares never past the cap (or what is used, past it). */
  const expectStripesExact = async (engine: string, stripeDay: string, capCents: number) => {
    const stripes = await t.db
      .selectFrom('risk_ledger_stripe')
      .selectAll()
      .where('engine', '=', engine)
      .where('day', '=', stripeDay)
      .execute();
    const c = (n: number | null) => Math.round((n ?? 0) * 100);
    for (const s of stripes) expect(c(s.exposure_used)).toBeLessThanOrEqual(c(s.exposure_share));
    const used = stripes.reduce((a, s) => a + c(s.exposure_used), 0);
    expect(stripes.reduce((a, s) => a + c(s.exposure_share), 0)).toBeLessThanOrEqual(Math.max(capCents, used));
    return { stripes: stripes.length, used: used / 100 };
  };

  it('holds a day in stripes that settle and release find again, and reports one figure per engine', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `spread-${i}`);
    expect((await Promise.all(keys.map((k) => reserve(k, 'WHOLESALE', 10)))).every((r) => r.ok)).toBe(true);
    const homes = await t.db.selectFrom('risk_reservation').select('stripe').distinct().execute();
    expect(homes.length).toBeGreaterThan(1);
    await gates(t).settleResult({ key: 'spread-0', realizedLoss: 4, actor: 'test' });
    await gates(t).releaseReservation({ key: 'spread-1', actor: 'test', reason: 'denied later' });
    expect(await ledger('WHOLESALE')).toMatchObject({
      exposureUsed: 230,
      openRiskReserved: 220,
      realizedLoss: 4,
      actions: 23,
    });
    expect(await ledger('GLOBAL')).toMatchObject({ exposureUsed: 230, openRiskReserved: 220, actions: 23 });
    expect(await expectStripesExact('GLOBAL', day, 150_000)).toEqual({ stripes: 8, used: 230 });
    const { engines } = await ledgerReport(t.db, day);
    expect(engines.filter((e) => e.engine === 'WHOLESALE')).toHaveLength(1);
  });

  it('borrows the whole day near exhaustion, and a cap lowered mid-day leaves no stripe room it no longer has', async () => {
    // GLOBAL 1500: 8 × 180 = 1440 fit wherever they land; then only 60 is left, wherever the key's home is.
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => reserve(`g-${i}`, 'GLOBAL', 180)));
    expect(first.every((r) => r.ok)).toBe(true);
    expect(await reserve('g-big', 'GLOBAL', 61)).toMatchObject({ ok: false, reason: 'daily_exposure_exceeded' });
    expect(await reserve('g-last', 'GLOBAL', 60)).toMatchObject({ ok: true });
    await expectStripesExact('GLOBAL', day, 150_000);
    // Released room goes back; lowered to 1000 under what is used, nothing more fits on any stripe.
    await gates(t).releaseReservation({ key: 'g-0', actor: 'test', reason: 'x' });
    const [global] = (await listRiskPolicies(t.db)).filter((p) => p.engine === 'GLOBAL');
    await upsertRiskPolicy(t.db, { ...global!, maxDailyExposure: 1000 }, 'test');
    const after = await Promise.all(Array.from({ length: 40 }, (_, i) => reserve(`late-${i}`, 'GLOBAL', 1)));
    expect(after.filter((r) => r.ok)).toHaveLength(0);
    expect(await expectStripesExact('GLOBAL', day, 100_000)).toMatchObject({ used: 1320 });
    // What releases give back goes to the day, not to their stripes: exactly the 400 under the new cap fit.
    for (const k of ['g-1', 'g-2', 'g-3', 'g-4'])
      await gates(t).releaseReservation({ key: k, actor: 'test', reason: 'x' });
    const refill = await Promise.all(Array.from({ length: 450 }, (_, i) => reserve(`refill-${i}`, 'GLOBAL', 1)));
    expect(refill.filter((r) => r.ok)).toHaveLength(400);
    expect(await expectStripesExact('GLOBAL', day, 100_000)).toMatchObject({ used: 1000 });
  });

  it('a cap lowered while a new day is first reserved on never leaves the old cap shared out', async () => {
    const [global] = (await listRiskPolicies(t.db)).filter((p) => p.engine === 'GLOBAL');
    const nextDay = new Date(at.getTime() + 86_400_000);
    const race = Array.from({ length: 60 }, (_, i) =>
      gates(t).reserveExposure({
        key: `n-${i}`,
        engine: 'GLOBAL',
        amount: 5,
        actor: 'test',
        at: nextDay.toISOString(),
      }),
    );
    await Promise.all([...race, upsertRiskPolicy(t.db, { ...global!, maxDailyExposure: 100 }, 'test')]);
    const more = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        gates(t).reserveExposure({
          key: `m-${i}`,
          engine: 'GLOBAL',
          amount: 5,
          actor: 'test',
          at: nextDay.toISOString(),
        }),
      ),
    );
    const { used } = await expectStripesExact('GLOBAL', utcDay(nextDay), 10_000);
    // However much the race admitted before the change, nothing after it passed 100.
    const raced = (await Promise.all(race)).filter((r) => r.ok).length * 5;
    expect(used).toBeLessThanOrEqual(Math.max(100, raced));
    expect(used - raced).toBe(more.filter((r) => r.ok).length * 5);
  });
});

describe('decidePermit (pure)', () => {
  it('checks the burst window first, then the hour', () => {
    expect(decidePermit({ lastHour: 1, last5Min: 1 }, DEFAULT_GOVERNOR_SETTINGS)).toEqual({ ok: true });
    expect(decidePermit({ lastHour: 2, last5Min: 2 }, DEFAULT_GOVERNOR_SETTINGS)).toMatchObject({
      ok: false,
      reason: 'burst_limit_exceeded',
      disarm: true,
    });
    expect(decidePermit({ lastHour: 3, last5Min: 0 }, DEFAULT_GOVERNOR_SETTINGS)).toMatchObject({
      ok: false,
      reason: 'hourly_limit_exceeded',
      disarm: false,
    });
    expect(
      decidePermit({ lastHour: 2, last5Min: 2 }, { ...DEFAULT_GOVERNOR_SETTINGS, autoDisarm: false }),
    ).toMatchObject({ disarm: false });
  });
});

describe('execution permits on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });
  const issue = (key: string, when: Date, symbol = 'BTCUSDT') =>
    gates(t).issuePermit({ key, dealId: key, symbol, at: when.toISOString(), actor: 'test' });
  // The permit is used by the last gate, authorizeExecution (OBSERVE_ONLY: the control plane lets it through).
  const consumePermit = async (request: { permitId: string; dealId: string; at: Date }) => {
    const answer = await gates(t).authorizeExecution({
      permitId: request.permitId,
      dealId: request.dealId,
      executionClass: 'OBSERVE_ONLY',
      at: request.at.toISOString(),
    });
    return answer.authorized ? { ok: true } : { ok: false, reason: answer.reason };
  };

  it('enforces 2 per 5 minutes and 3 per hour per symbol over sliding windows, with block records', async () => {
    expect(await issue('d1', atMin(0))).toMatchObject({ granted: true });
    expect(await issue('d2', atMin(1))).toMatchObject({ granted: true });
    expect(await issue('d3', atMin(2))).toMatchObject({ granted: false, reason: 'burst_limit_exceeded', disarm: true });
    expect(await issue('other', atMin(2), 'ETHUSDT')).toMatchObject({ granted: true });
    // d1 leaves the 5-minute window at 5:00; the hour still holds two.
    expect(await issue('d4', atMin(5, 1))).toMatchObject({ granted: true });
    expect(await issue('d5', atMin(20))).toMatchObject({
      granted: false,
      reason: 'hourly_limit_exceeded',
      disarm: false,
    });
    expect(await issue('d6', atMin(60, 1))).toMatchObject({ granted: true });
    const { blocks, disarms } = await listPermits(t.db, { symbol: 'BTCUSDT' });
    expect(blocks.map((b) => b.reason).sort()).toEqual(['burst_limit_exceeded', 'hourly_limit_exceeded']);
    expect(disarms).toMatchObject([{ reason: 'burst_limit_breach', symbol: 'BTCUSDT' }]);
  });

  it('is idempotent per key, and a revoked permit stops counting', async () => {
    const first = await issue('d1', atMin(0));
    expect(await issue('d1', atMin(3))).toEqual(first);
    const second = await issue('d2', atMin(1));
    expect(await issue('d3', atMin(2))).toMatchObject({ granted: false });
    expect(await issue('d3', atMin(2))).toMatchObject({ granted: false, reason: 'burst_limit_exceeded' });
    expect((await listPermits(t.db)).blocks).toHaveLength(1);
    if (!second.granted) throw new Error('expected a permit');
    expect(await gates(t).revokePermit({ permitId: second.permitId, reason: 'deal denied' })).toEqual({
      revoked: true,
    });
    expect(await issue('d4', atMin(2))).toMatchObject({ granted: true });
  });

  it('is single-use, bound to its deal, and expires after its TTL', async () => {
    const permit = await issue('d1', atMin(0));
    if (!permit.granted) throw new Error('expected a permit');
    expect(permit.expiresAt).toBe(atMin(1).toISOString());
    expect(await consumePermit({ permitId: permit.permitId, dealId: 'someone-else', at: atMin(0, 10) })).toEqual({
      ok: false,
      reason: 'permit_missing',
    });
    expect(await consumePermit({ permitId: permit.permitId, dealId: 'd1', at: atMin(0, 10) })).toEqual({ ok: true });
    expect(await consumePermit({ permitId: permit.permitId, dealId: 'd1', at: atMin(0, 20) })).toEqual({ ok: true }); // the same deal retrying
    expect(await gates(t).revokePermit({ permitId: permit.permitId, reason: 'late' })).toEqual({ revoked: false });

    const late = await issue('d2', atMin(10));
    if (!late.granted) throw new Error('expected a permit');
    expect(await consumePermit({ permitId: late.permitId, dealId: 'd2', at: atMin(11, 1) })).toEqual({
      ok: false,
      reason: 'permit_expired',
    });
  });
});

describe('the last gate and an engage on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('an engage committing while the last gate runs stops the deal: no permit is used after the engage is persisted', async () => {
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true }).execute();
    const permit = await gates(t).issuePermit({
      key: 'in-flight',
      dealId: 'in-flight',
      symbol: 'BTCUSDT',
      at: new Date().toISOString(),
      actor: 'test',
    });
    if (!permit.granted) throw new Error('expected a permit');
    // An engage in progress: the control plane's row locked and changed, not yet committed.
    const engage = await t.db.startTransaction().execute();
    await engage.selectFrom('control_plane_state').selectAll().forUpdate().execute();
    await engage.updateTable('control_plane_state').set({ kill_switch_engaged: true }).execute();
    let settled = false;
    const answer = gates(t)
      .authorizeExecution({
        permitId: permit.permitId,
        dealId: 'in-flight',
        executionClass: 'PROD_EXEC',
        at: new Date().toISOString(),
      })
      .finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The gate waits for the engage rather than deciding on the state it replaces.
    expect(settled).toBe(false);
    await engage.commit().execute();
    expect(await answer).toMatchObject({ authorized: false, gate: 'control_plane', reason: 'kill_switch_engaged' });
    const row = await t.db
      .selectFrom('execution_permit')
      .select('status')
      .where('id', '=', permit.permitId)
      .executeTakeFirstOrThrow();
    expect(row.status).not.toBe('consumed');
  });
});

const WHOLESALE_OFFER: HeimdallPolicy = {
  domain: 'WHOLESALE_OFFER',
  minConfidenceProd: 0.92,
  minSandboxTrials: 75,
  minSandboxSuccessRate: 0.82,
  prodUseEnabled: false,
};

describe('evaluateProdGate (pure)', () => {
  const card = (trials: number, successes: number, avgConfidence: number) => ({
    domain: 'WHOLESALE_OFFER',
    day: '2026-11-24',
    trials,
    successes,
    successRate: successes / trials,
    avgConfidence,
  });

  it('fails on the first check in the seed order', () => {
    expect(evaluateProdGate(undefined, undefined, 0.99)).toMatchObject({ ok: false, reason: 'policy_missing' });
    expect(evaluateProdGate(WHOLESALE_OFFER, card(100, 100, 0.99), 0.91)).toMatchObject({
      ok: false,
      reason: 'confidence_below_min',
    });
    expect(evaluateProdGate(WHOLESALE_OFFER, card(100, 100, 0.99), 0.94)).toMatchObject({
      ok: false,
      reason: 'prod_use_disabled',
    });
    const on = { ...WHOLESALE_OFFER, prodUseEnabled: true };
    expect(evaluateProdGate(on, undefined, 0.94)).toMatchObject({ ok: false, reason: 'insufficient_sandbox_trials' });
    expect(evaluateProdGate(on, card(74, 74, 0.99), 0.94)).toMatchObject({
      ok: false,
      reason: 'insufficient_sandbox_trials',
    });
    expect(evaluateProdGate(on, card(100, 81, 0.99), 0.94)).toMatchObject({
      ok: false,
      reason: 'sandbox_success_rate_below_min',
    });
    expect(evaluateProdGate(on, card(100, 82, 0.919), 0.94)).toMatchObject({
      ok: false,
      reason: 'sandbox_avg_confidence_below_min',
    });
    expect(evaluateProdGate(on, card(75, 62, 0.92), 0.92)).toEqual({ ok: true, reason: 'PROD_GATE_PASS' });
  });
});

describe('Heimdall gate on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('seeds the four domains with the seed thresholds, prod use off', async () => {
    const cards = await listScorecards(t.db, '2026-11-24');
    expect(cards.map((c) => c.policy)).toEqual([
      {
        domain: 'BUYER_MATCH',
        minConfidenceProd: 0.9,
        minSandboxTrials: 50,
        minSandboxSuccessRate: 0.8,
        prodUseEnabled: false,
      },
      {
        domain: 'CAPITAL_ROUTE',
        minConfidenceProd: 0.95,
        minSandboxTrials: 100,
        minSandboxSuccessRate: 0.85,
        prodUseEnabled: false,
      },
      {
        domain: 'FOLLOWUP_NEXT_ACTION',
        minConfidenceProd: 0.9,
        minSandboxTrials: 60,
        minSandboxSuccessRate: 0.8,
        prodUseEnabled: false,
      },
      WHOLESALE_OFFER,
    ]);
  });

  it("walks through seed 000 evaluate_prod_gate: disabled first, then passing on today's scorecard", async () => {
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toMatchObject({
      ok: false,
      reason: 'prod_use_disabled',
    });
    const blocked = await createRecommendation(t.db, {
      domain: 'WHOLESALE_OFFER',
      confidence: 0.94,
      actor: 'heimdall',
    });
    expect(blocked).toMatchObject({ prodEligible: false, gateReason: 'prod_use_disabled' });

    await setHeimdallPolicy(t.db, { ...WHOLESALE_OFFER, prodUseEnabled: true }, 'alice');
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toMatchObject({
      ok: false,
      reason: 'insufficient_sandbox_trials',
    });
    // 80 trials today, 70 successes (87.5%), average confidence 0.93.
    for (let i = 0; i < 80; i++) {
      await recordSandboxTrial(t.db, {
        domain: 'WHOLESALE_OFFER',
        success: i < 70,
        confidence: 0.93,
        key: `trial-${i}`,
      });
    }
    const card = await recordSandboxTrial(t.db, {
      domain: 'WHOLESALE_OFFER',
      success: true,
      confidence: 0.93,
      key: 'trial-0',
    });
    expect(card).toMatchObject({ trials: 80, successes: 70, successRate: 0.875 });
    expect(card.avgConfidence).toBeCloseTo(0.93, 10);
    expect(await evaluateDomainGate(t.db, 'WHOLESALE_OFFER', 0.94)).toEqual({ ok: true, reason: 'PROD_GATE_PASS' });

    const eligible = await createRecommendation(t.db, {
      domain: 'WHOLESALE_OFFER',
      confidence: 0.94,
      actor: 'heimdall',
      payload: { offer: 'A-17' },
    });
    expect(eligible).toMatchObject({ prodEligible: true, gateReason: 'PROD_GATE_PASS' });
    expect(
      await gates(t).assertProdEligible({ recommendationId: eligible.id, actor: 'deal-1', correlationId: 'deal:1' }),
    ).toMatchObject({ ok: true });
    // Switched off after creation: assert re-evaluates and refuses.
    await setHeimdallPolicy(t.db, WHOLESALE_OFFER, 'alice');
    expect(
      await gates(t).assertProdEligible({ recommendationId: eligible.id, actor: 'deal-2', correlationId: 'deal:2' }),
    ).toMatchObject({ ok: false, reason: 'prod_use_disabled' });
    expect(
      await gates(t).assertProdEligible({
        recommendationId: eligible.id,
        domain: 'BUYER_MATCH',
        actor: 'x',
        correlationId: 'deal:3',
      }),
    ).toMatchObject({ ok: false, reason: 'domain_mismatch' });
    expect(
      await gates(t).assertProdEligible({
        recommendationId: '00000000-0000-4000-8000-000000000000',
        actor: 'x',
        correlationId: 'deal:4',
      }),
    ).toMatchObject({ ok: false, reason: 'recommendation_missing' });
  });
});
