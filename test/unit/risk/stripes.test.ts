import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addReservation,
  checkPolicy,
  decideReserve,
  type LedgerDay,
  type RiskPolicy,
} from '../../../src/domain/risk/rules';
import {
  LEDGER_STRIPES,
  type LedgerStripe,
  ledgerTotals,
  refusalOnTotals,
  reserveInOrder,
  reserveOnTotals,
  shareOut,
  stripeOf,
} from '../../../src/domain/risk/stripes';

const cents = (n: number) => Math.round(n * 100);
const money = fc.integer({ min: 0, max: 500_000 }).map((c) => c / 100);
const cap = fc.option(money, { nil: null });
const policyArb = fc.record({
  engine: fc.constant('GLOBAL'),
  maxDailyLoss: fc.constant(null),
  maxDailyExposure: cap,
  maxOpenRisk: cap,
  maxActionsPerDay: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
  enabled: fc.constant(true),
  paused: fc.constant(false),
}) satisfies fc.Arbitrary<RiskPolicy>;

const empty = (): LedgerStripe[] =>
  Array.from({ length: LEDGER_STRIPES }, (_, stripe) => ({
    stripe,
    exposureUsed: 0,
    openRiskReserved: 0,
    realizedLoss: 0,
    actions: 0,
    exposureShare: 0,
    openRiskShare: 0,
    actionsShare: 0,
  }));

/** What a reserve that fits its home stripe's shares does (reserveOnStripe's conditional update). */
function onStripe(stripes: LedgerStripe[], home: number, amount: number): LedgerStripe[] | null {
  const s = stripes[home]!;
  const fits =
    (s.exposureShare === null || cents(s.exposureUsed) + cents(amount) <= cents(s.exposureShare)) &&
    (s.openRiskShare === null || cents(s.openRiskReserved) + cents(amount) <= cents(s.openRiskShare)) &&
    (s.actionsShare === null || s.actions + 1 <= s.actionsShare);
  if (!fits) return null;
  return stripes.map((x) => (x.stripe === home ? { ...x, ...addReservation(x, amount) } : x));
}

const sumCents = (stripes: LedgerStripe[], pick: (s: LedgerStripe) => number | null) =>
  stripes.reduce((a, s) => a + cents(pick(s) ?? 0), 0);

describe('striped ledger (pure)', () => {
  it('sends a key to the same stripe every time, and spreads keys over every stripe', () => {
    expect(stripeOf('deal-42:reserve')).toBe(stripeOf('deal-42:reserve'));
    const seen = new Set(Array.from({ length: 200 }, (_, i) => stripeOf(`deal-${i}`)));
    expect(seen.size).toBe(LEDGER_STRIPES);
  });

  it('shares every cap out exactly: the shares sum to the cap and no stripe gets less than it uses', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: LEDGER_STRIPES, maxLength: LEDGER_STRIPES }),
        (policy, used) => {
          const stripes = empty().map((s, i) => ({ ...s, exposureUsed: used[i]! / 100, actions: used[i]! % 7 }));
          const shared = shareOut(policy, stripes);
          if (policy.maxDailyExposure === null) expect(shared.every((s) => s.exposureShare === null)).toBe(true);
          else {
            const total = Math.max(
              cents(policy.maxDailyExposure),
              sumCents(stripes, (s) => s.exposureUsed),
            );
            expect(sumCents(shared, (s) => s.exposureShare)).toBe(total);
            for (const s of shared) expect(cents(s.exposureShare!)).toBeGreaterThanOrEqual(cents(s.exposureUsed));
          }
          if (policy.maxActionsPerDay !== null) {
            const total = Math.max(
              policy.maxActionsPerDay,
              stripes.reduce((a, s) => a + s.actions, 0),
            );
            expect(shared.reduce((a, s) => a + s.actionsShare!, 0)).toBe(total);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('admits exactly what one row would, through reserves on any stripe, releases and caps changed mid-day', () => {
    const op = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ reserve: fc.nat(LEDGER_STRIPES - 1), cents: fc.integer({ min: 1, max: 60_000 }) }),
      },
      { weight: 2, arbitrary: fc.record({ release: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ caps: policyArb }) },
    );
    fc.assert(
      fc.property(policyArb, fc.array(op, { maxLength: 150 }), (initial, ops) => {
        let policy = initial;
        let stripes = shareOut(policy, empty());
        let oneRow = ledgerTotals(stripes);
        const held: { home: number; cents: number }[] = [];
        for (const o of ops) {
          if ('reserve' in o) {
            const amount = o.cents / 100;
            const oneRowCheck = checkPolicy(policy, oneRow, amount);
            // What the totals as read refuse is refused at once: exactly what one row refuses.
            const refused = refusalOnTotals([{ engine: 'GLOBAL', policy, totals: ledgerTotals(stripes) }], amount);
            const fast = refused === undefined ? onStripe(stripes, o.reserve, amount) : null;
            if (refused !== undefined) {
              expect(refused).toEqual(oneRowCheck);
            } else if (fast) {
              // A stripe's share is room the caps still have: one row would have admitted it too.
              expect(oneRowCheck.ok).toBe(true);
              stripes = fast;
            } else {
              const exact = reserveOnTotals(policy, stripes, o.reserve, amount);
              expect(exact.check).toEqual(oneRowCheck);
              stripes = exact.stripes;
            }
            if (oneRowCheck.ok) {
              held.push({ home: o.reserve, cents: o.cents });
              oneRow = { ...oneRow, ...addReservation(oneRow, amount) };
            }
          } else if ('release' in o) {
            if (held.length === 0) continue;
            const [r] = held.splice(o.release % held.length, 1);
            // adjustStripe(…, 'to_day'): what it held leaves the stripe's use and its shares alike.
            const less = (n: number | null) => (n === null ? null : (cents(n) - r!.cents) / 100);
            stripes = stripes.map((s) =>
              s.stripe === r!.home
                ? {
                    ...s,
                    exposureUsed: less(s.exposureUsed)!,
                    openRiskReserved: less(s.openRiskReserved)!,
                    actions: s.actions - 1,
                    exposureShare: less(s.exposureShare),
                    openRiskShare: less(s.openRiskShare),
                    actionsShare: s.actionsShare === null ? null : s.actionsShare - 1,
                  }
                : s,
            );
            oneRow = {
              ...oneRow,
              exposureUsed: (cents(oneRow.exposureUsed) - r!.cents) / 100,
              openRiskReserved: (cents(oneRow.openRiskReserved) - r!.cents) / 100,
              actions: oneRow.actions - 1,
            };
          } else {
            // upsertRiskPolicy's withdrawShares: every stripe keeps what it uses of the caps that are set.
            policy = o.caps;
            stripes = stripes.map((s) => ({
              ...s,
              exposureShare: policy.maxDailyExposure === null ? null : s.exposureUsed,
              openRiskShare: policy.maxOpenRisk === null ? null : s.openRiskReserved,
              actionsShare: policy.maxActionsPerDay === null ? null : s.actions,
            }));
          }
          expect(ledgerTotals(stripes)).toEqual(oneRow);
          // The room the stripes hold is never more than the caps have left.
          const room = (pick: (s: LedgerStripe) => [number, number | null]) =>
            stripes.reduce((a, s) => {
              const [used, share] = pick(s);
              return share === null ? a : a + cents(share) - cents(used);
            }, 0);
          if (policy.maxDailyExposure !== null)
            expect(room((s) => [s.exposureUsed, s.exposureShare])).toBeLessThanOrEqual(
              Math.max(0, cents(policy.maxDailyExposure) - cents(oneRow.exposureUsed)),
            );
          if (policy.maxOpenRisk !== null)
            expect(room((s) => [s.openRiskReserved, s.openRiskShare])).toBeLessThanOrEqual(
              Math.max(0, cents(policy.maxOpenRisk) - cents(oneRow.openRiskReserved)),
            );
          for (const s of stripes) {
            if (s.exposureShare !== null) expect(cents(s.exposureUsed)).toBeLessThanOrEqual(cents(s.exposureShare));
            if (s.actionsShare !== null) expect(s.actions).toBeLessThanOrEqual(s.actionsShare);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('decides a group of reserves one after another exactly as one row per engine would, dual control', () => {
    const request = fc.record({
      key: fc.string({ maxLength: 6 }),
      engine: fc.constantFrom('GLOBAL', 'A', 'B', 'NONE'),
      amount: fc.integer({ min: 1, max: 60_000 }).map((c) => c / 100),
    });
    fc.assert(
      fc.property(policyArb, policyArb, policyArb, fc.array(request, { maxLength: 60 }), (global, a, b, requests) => {
        const policies = new Map<string, RiskPolicy>([
          ['GLOBAL', global],
          ['A', { ...a, engine: 'A' }],
          ['B', { ...b, engine: 'B' }],
        ]);
        const ledgers = new Map(
          [...policies].map(([engine, policy]) => [engine, { policy, stripes: shareOut(policy, empty()) }]),
        );
        const { checks, moved } = reserveInOrder(ledgers, requests);
        const zero: LedgerDay = { exposureUsed: 0, openRiskReserved: 0, realizedLoss: 0, actions: 0 };
        const oneRow = new Map([...policies.keys()].map((engine) => [engine, zero]));
        requests.forEach((r, i) => {
          const engineRow = oneRow.get(r.engine) ?? zero;
          const expected = decideReserve(
            r,
            { global, engine: policies.get(r.engine) },
            { global: oneRow.get('GLOBAL')!, engine: engineRow },
          );
          expect(checks[i]).toEqual(expected);
          if (expected.ok)
            for (const engine of new Set(['GLOBAL', r.engine]))
              oneRow.set(engine, { ...oneRow.get(engine)!, ...addReservation(oneRow.get(engine)!, r.amount) });
        });
        for (const [engine, row] of oneRow)
          expect(ledgerTotals(moved.get(engine) ?? ledgers.get(engine)!.stripes)).toEqual(row);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses on the totals in engine order, GLOBAL first, and a missing policy as seed 000 does', () => {
    const totals = { exposureUsed: 1400, openRiskReserved: 0, realizedLoss: 0, actions: 3 };
    const global = {
      engine: 'GLOBAL',
      maxDailyLoss: null,
      maxDailyExposure: 1500,
      maxOpenRisk: null,
      maxActionsPerDay: 3,
      enabled: true,
      paused: false,
    };
    const engine = { ...global, engine: 'CAPITAL', maxDailyExposure: 100, maxActionsPerDay: null };
    const readings = [
      { engine: 'GLOBAL', policy: global, totals },
      { engine: 'CAPITAL', policy: engine, totals },
    ];
    expect(refusalOnTotals(readings, 200)).toMatchObject({ scope: 'GLOBAL', reason: 'daily_exposure_exceeded' });
    expect(refusalOnTotals(readings, 50)).toMatchObject({ scope: 'GLOBAL', reason: 'daily_action_limit_reached' });
    expect(refusalOnTotals([readings[1]!], 50)).toMatchObject({ scope: 'CAPITAL', reason: 'daily_exposure_exceeded' });
    expect(refusalOnTotals([{ ...readings[1]!, totals: { ...totals, exposureUsed: 0 } }], 50)).toBeUndefined();
    expect(refusalOnTotals([{ engine: 'MARKETING', policy: undefined, totals }], 1)).toMatchObject({
      scope: 'MARKETING',
      reason: 'policy_missing',
    });
  });

  it('after a cap is lowered below what is used, no stripe has room, and the totals refuse', () => {
    const policy: RiskPolicy = {
      engine: 'GLOBAL',
      maxDailyLoss: null,
      maxDailyExposure: 1000,
      maxOpenRisk: null,
      maxActionsPerDay: null,
      enabled: true,
      paused: false,
    };
    let stripes = shareOut(policy, empty());
    for (let i = 0; i < LEDGER_STRIPES; i++) stripes = onStripe(stripes, i, 100)!;
    const lowered = shareOut({ ...policy, maxDailyExposure: 500 }, stripes);
    for (let i = 0; i < LEDGER_STRIPES; i++) expect(onStripe(lowered, i, 0.01)).toBeNull();
    expect(reserveOnTotals({ ...policy, maxDailyExposure: 500 }, lowered, 0, 0.01).check).toMatchObject({
      ok: false,
      reason: 'daily_exposure_exceeded',
    });
  });
});
