// The risk guard's transactions (seed 000): read the locked ledgers → decide
// (src/domain/risk) → write and record, one transaction each.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../src/db/database';
import { recordAuditEvent } from '../../src/db/audit.repository';
import { applyDealToPosition, dropExitHold, holdExit, lockPosition } from '../../src/db/positions.repository';
import type { DealExit, SettlePosition } from '../../src/domain/deals/activities';
import {
  adjustStripe,
  findReservation,
  findReservations,
  insertReservations,
  insertRiskEvents,
  lockStripes,
  readReserveInputs,
  shareLossGate,
  takeLossGate,
  type ReserveInputs,
  reserveOnFreeStripe,
  reserveOnStripe,
  setReservationStatus,
  writeStripes,
} from '../../src/db/risk.repository';
import {
  decideRelease,
  decideSettle,
  type ReleaseOutcome,
  type ReserveDecision,
  type ReserveRequest,
  reserveAudit,
  priorDecision,
  type SettleOutcome,
} from '../../src/domain/risk/reservations';
import {
  GLOBAL_ENGINE,
  ledgerEngines,
  policyMissing,
  type ReserveKind,
  type RiskCheck,
  utcDay,
} from '../../src/domain/risk/rules';
import {
  type LockedLedger,
  mayTakeHomeStripe,
  refusalOnTotals,
  reserveInOrder,
  reserveOnTotals,
  stripeOf,
} from '../../src/domain/risk/stripes';
import { groupCommitOf, isUniqueViolation } from '../../src/db/group-commit';

/**
 * Seed 000's reserve_exposure with dual control. Exact: an engine's day is striped
 * (src/domain/risk/stripes.ts): a reserve the day's totals as read already refuse is refused, locking
 * nothing; one they admit either fits one stripe's share of every cap (a free one first, else its home
 * stripe) or is decided on the totals with every stripe locked, so racing reserves cannot overshoot a
 * cap. Reserves asked at the same moment are decided together, in one transaction (reserveGroup). The
 * idempotency key makes a retry return the first decision, counted once.
 *
 * The decision also goes on the audit chain, in a transaction of its own (shared with the appends of the
 * same moment): the ledger rows are never held while an audit chain is taken. Keyed, so a retry after a
 * crash between the two appends it once.
 */
export async function reserveExposure(
  db: Kysely<Database>,
  request: ReserveRequest,
  exit?: DealExit,
): Promise<ReserveDecision> {
  const decision =
    exit === undefined
      ? await reserveGroups(db).submit({ ...request, exit: false })
      : await db.transaction().execute(async (trx) => {
          // An exit is held against its position first (the position row, then the ledgers: as admission locks them).
          const reduce =
            (await findReservation(trx, request.key)) === undefined
              ? await holdExit(trx, { key: request.key, actor: request.actor, ...exit })
              : undefined;
          const reserved = await reserveInTransaction(trx, { ...request, exit: reduce?.reduces === true });
          if (!reserved.ok && reduce?.reduces) await dropExitHold(trx, request.key);
          return reserved;
        });
  await recordAuditEvent(db, reserveAudit(decision, request.actor));
  return decision;
}

/**
 * Reserves (none an exit) asked at the same moment share one transaction and one commit
 * (src/db/group-commit.ts): where each locked a stripe of GLOBAL's day, and near exhaustion all of them,
 * a group locks every stripe of each engine once and decides its reserves one after another on the
 * totals. One alone goes the striped way. A key another transaction reserved while the group read (a
 * retry racing its first try) makes the group go again, to find that reservation.
 */
const reserveGroups = groupCommitOf<ReserveRequest, ReserveDecision>({
  atOnce: 4,
  limit: 200,
  write: (trx, requests) =>
    requests.length === 1
      ? Promise.all(requests.map((r) => reserveInTransaction(trx, r)))
      : reserveGroup(trx, requests),
  writeAgainOn: isUniqueViolation,
});

/**
 * The reserve itself, inside the caller's transaction (admitDeal's, or its own); the caller appends its
 * audit. A caller that already looked the key up in this transaction passes what it found (`looked`).
 */
export async function reserveInTransaction(
  trx: Transaction<Database>,
  request: ReserveRequest,
  looked?: { prior: Awaited<ReturnType<typeof findReservation>> },
): Promise<ReserveDecision> {
  const day = utcDay(request.at ?? new Date());
  // A concurrent first try of the same key cannot also pass: the reservation's key is unique, and the
  // loser's transaction fails and is retried, to find this one.
  const prior = looked ? looked.prior : await findReservation(trx, request.key);
  if (prior) return priorDecision(prior);
  const home = stripeOf(request.key);
  const engines = ledgerEngines(request.engine);
  await shareLossGate(trx, day);
  const inputs = await readReserveInputs(trx, engines, day);
  const kind = { exit: request.exit === true };
  // One the day's totals already refuse is refused on them, taking no stripe (near exhaustion, most).
  const refused = refusalOnTotals(
    engines.map((engine) => ({ engine, ...inputs.get(engine)! })),
    request.amount,
    kind,
  );
  // Where every engine's shares may take it, one stripe no other reserve holds takes it on all at once.
  const free =
    refused === undefined &&
    !kind.exit &&
    engines.every((engine) => {
      const { policy, totals } = inputs.get(engine)!;
      return policy !== undefined && mayTakeHomeStripe(policy, totals.realizedLoss, request.amount);
    })
      ? await reserveOnFreeStripe(trx, { engines, day, home }, request.amount)
      : undefined;
  const stripe = free ?? home;
  const booked: string[] = free === undefined ? [] : [...engines];
  let check: RiskCheck = refused ?? { ok: true };
  if (refused === undefined)
    for (const engine of engines.slice(booked.length)) {
      check = await reserveOnEngine(trx, { engine, day, stripe }, inputs.get(engine)!, request.amount, kind);
      if (!check.ok) break;
      booked.push(engine);
    }
  const decision = decisionOf(request, day, check);
  // The engine refused after GLOBAL took it: GLOBAL's stripe gives it back (its lock is held).
  if (!decision.ok)
    for (const engine of booked)
      await adjustStripe(
        trx,
        { engine, day, stripe },
        { exposure: kind.exit ? 0 : -request.amount, openRisk: -request.amount, actions: -1 },
        'kept',
      );
  await recordReserves(trx, [{ request, decision, stripe }]);
  return decision;
}

/**
 * A group of reserves (none an exit), day by day in day order: the day's loss gate shared, every stripe
 * of each engine the group books against locked in the one order (GLOBAL first, then by name), the
 * reserves decided in the order asked (reserveInOrder), and the stripes, reservations and risk events
 * written once. A key asked twice in the group gets its first decision, as a retry would.
 */
async function reserveGroup(trx: Transaction<Database>, requests: ReserveRequest[]): Promise<ReserveDecision[]> {
  const days = requests.map((r) => utcDay(r.at ?? new Date()));
  const decisions = new Map<string, ReserveDecision>();
  const priors = await findReservations(
    trx,
    requests.map((r) => r.key),
  );
  for (const [key, prior] of priors) decisions.set(key, priorDecision(prior));
  for (const day of [...new Set(days)].sort()) {
    // Each key once, as first asked: a repeat gets that decision.
    const seen = new Set<string>();
    const fresh = requests.filter(
      (r, i) => days[i] === day && !decisions.has(r.key) && !seen.has(r.key) && seen.add(r.key),
    );
    if (fresh.length === 0) continue;
    const engines = [GLOBAL_ENGINE, ...[...new Set(fresh.flatMap((r) => ledgerEngines(r.engine).slice(1)))].sort()];
    await shareLossGate(trx, day);
    // Whether an engine is paused, read as a reserve alone reads it; the stripes come locked below.
    const inputs = await readReserveInputs(trx, engines, day);
    const ledgers = new Map<string, LockedLedger>();
    for (const engine of engines) {
      const locked = await lockStripes(trx, engine, day);
      const paused = inputs.get(engine)?.policy?.paused === true;
      ledgers.set(engine, { policy: locked.policy && { ...locked.policy, paused }, stripes: locked.stripes });
    }
    const { checks, moved } = reserveInOrder(ledgers, fresh);
    for (const [engine, stripes] of moved) await writeStripes(trx, engine, day, stripes);
    const reserves = fresh.map((request, i) => ({
      request,
      decision: decisionOf(request, day, checks[i]!),
      stripe: stripeOf(request.key),
    }));
    await recordReserves(trx, reserves);
    for (const { request, decision } of reserves) decisions.set(request.key, decision);
  }
  return requests.map((r) => decisions.get(r.key)!);
}

function decisionOf(request: ReserveRequest, day: string, check: RiskCheck): ReserveDecision {
  const base = { key: request.key, engine: request.engine, amount: request.amount, day };
  return check.ok
    ? { ...base, ok: true }
    : { ...base, ok: false, scope: check.scope, reason: check.reason, detail: check.detail };
}

/** Reserves' reservations and their risk events, in one statement. */
async function recordReserves(
  trx: Transaction<Database>,
  reserves: { request: ReserveRequest; decision: ReserveDecision; stripe: number }[],
): Promise<void> {
  await insertReservations(
    trx,
    reserves.map(({ request, decision, stripe }) => ({ decision, actor: request.actor, stripe, exit: request.exit })),
    reserves.map(({ request, decision, stripe }) => ({
      engine: request.engine,
      kind: 'RESERVE',
      ok: decision.ok,
      reason: decision.ok ? null : decision.reason,
      amount: request.amount,
      key: request.key,
      actor: request.actor,
      details: {
        ...(decision.ok
          ? { day: decision.day, stripe }
          : { day: decision.day, scope: decision.scope, detail: decision.detail }),
        ...(request.exit === true ? { exit: true } : {}),
      },
    })),
  );
}

/**
 * One engine of a reserve: its home stripe when the share fits, else every stripe and the day's totals.
 * An exit is always decided on the totals: it is rare, and the home stripe's shares count exposure.
 */
async function reserveOnEngine(
  trx: Transaction<Database>,
  at: { engine: string; day: string; stripe: number },
  { policy, totals }: ReserveInputs,
  amount: number,
  kind: ReserveKind,
): Promise<RiskCheck> {
  if (!policy) return policyMissing(at.engine);
  if (!kind.exit && mayTakeHomeStripe(policy, totals.realizedLoss, amount) && (await reserveOnStripe(trx, at, amount)))
    return { ok: true };
  // Decided on the policy as it is under the lock: the one read before may have changed since.
  const locked = await lockStripes(trx, at.engine, at.day);
  if (!locked.policy) return policyMissing(at.engine);
  const exact = reserveOnTotals({ ...locked.policy, paused: policy.paused }, locked.stripes, at.stripe, amount, kind);
  if (exact.check.ok) await writeStripes(trx, at.engine, at.day, exact.stripes);
  return exact.check;
}

/**
 * Seed 000's settle_result: releases the open-risk reserve and books the realized loss, once. `alsoIn`
 * writes in the same transaction (the deal's outcome), settled now or before; before the shared ledgers.
 */
export async function settleResult(
  db: Kysely<Database>,
  request: { key: string; realizedLoss: number; actor: string; position?: SettlePosition },
  alsoIn?: (trx: Transaction<Database>) => Promise<void>,
): Promise<SettleOutcome> {
  return db.transaction().execute(async (trx) => {
    // The reservation first, then its ledgers: reserve never waits on a reservation row, so no cycle.
    const row = await findReservation(trx, request.key, { forUpdate: true });
    const settle = decideSettle(row, request.key);
    if (!settle.settle) {
      await alsoIn?.(trx);
      return settle.outcome;
    }
    const { engine, day, amount, stripe } = row!;
    // The position before the ledgers, in the order an exit's admission takes them: never a deadlock.
    const held = request.position && (await lockPosition(trx, request.position.position, request.actor));
    await setReservationStatus(trx, request.key, { status: 'settled', realizedLoss: request.realizedLoss });
    // Warden's own position moves with the settle, in its transaction: only once the reservation is settled.
    // An exit's hold on the position ends as the position itself moves.
    await dropExitHold(trx, request.key);
    if (request.position)
      await applyDealToPosition(
        trx,
        {
          key: request.key,
          position: request.position.position,
          side: request.position.side,
          amount,
          actor: request.actor,
        },
        held,
      );
    await alsoIn?.(trx);
    // The ledgers last, so the stripes every deal shares are held for the event and the commit alone (the
    // loss gate first); the event after them, so risk events are in the order the ledgers moved.
    if (request.realizedLoss > 0) await takeLossGate(trx, day);
    for (const ledger of ledgerEngines(engine))
      await adjustStripe(
        trx,
        { engine: ledger, day, stripe },
        { openRisk: -amount, loss: request.realizedLoss },
        'to_day',
      );
    await insertRiskEvents(trx, [
      {
        engine,
        kind: 'SETTLE',
        ok: true,
        reason: null,
        amount,
        key: request.key,
        actor: request.actor,
        details: { day, realizedLoss: request.realizedLoss },
      },
    ]);
    return { key: row!.idempotency_key, status: 'settled', amount, realizedLoss: request.realizedLoss };
  });
}

/**
 * Compensation: gives back exposure, open risk and the action count of a
 * reservation whose action never ran. Idempotent; a no-op for anything not reserved.
 */
export async function releaseReservation(
  db: Kysely<Database>,
  request: { key: string; actor: string; reason: string },
): Promise<ReleaseOutcome> {
  return db.transaction().execute((trx) => releaseInTransaction(trx, request));
}

/** The release itself, inside the caller's transaction (the reservation sweep's, or its own). */
export async function releaseInTransaction(
  trx: Transaction<Database>,
  request: { key: string; actor: string; reason: string },
): Promise<ReleaseOutcome> {
  const row = await findReservation(trx, request.key, { forUpdate: true });
  const release = decideRelease(row, request.key);
  if (!release.release) return release.outcome;
  const { engine, day, amount, stripe, counts_exposure } = row!;
  await setReservationStatus(trx, request.key, { status: 'released' });
  await dropExitHold(trx, request.key);
  // The ledgers last, then their event, as a settle moves them.
  for (const ledger of ledgerEngines(engine))
    await adjustStripe(
      trx,
      { engine: ledger, day, stripe },
      { exposure: counts_exposure ? -amount : 0, openRisk: -amount, actions: -1 },
      'to_day',
    );
  await insertRiskEvents(trx, [
    {
      engine,
      kind: 'RELEASE',
      ok: true,
      reason: request.reason,
      amount,
      key: request.key,
      actor: request.actor,
      details: { day },
    },
  ]);
  return { key: request.key, released: true, status: 'released' as const };
}
