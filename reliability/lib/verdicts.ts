// The load verdicts, shared by the load, kill-switch and scale-out scenarios.
// None of them trusts Warden's counters: they compare what the harness sent
// and what each workflow answered with the database's own rows (ledger, risk
// events, reservations, permits, the audit chain) and what the recording
// executor saw.
import type { Kysely } from 'kysely';
import { verifyAuditChain } from '../../src/db/audit.repository';
import type { Database } from '../../src/db/database';
import { AuditKind } from '../../src/domain/audit/kinds';
import { GLOBAL_ENGINE } from '../../src/domain/risk/rules';
import { dealWorkflowId } from '../../workflows/names';
import { type SentDeal, statusOf } from './deals';
import type { ExecutorCall } from './recording-executor';

/** Money in whole cents, so sums compare exactly. */
export const cents = (amount: number) => Math.round(amount * 100);
const money = (c: number) => (c / 100).toFixed(2);

export interface Verdicts {
  failures: string[];
  figures: Record<string, number | string>;
}

/** What the verdicts read: the harness's deals, the executor's record, and the loss each fill booked. */
export interface VerdictInput {
  db: Kysely<Database>;
  deals: SentDeal[];
  calls: ExecutorCall[];
  /** The loss the recording executor booked for a deal (the same function it was started with). */
  lossOf: (deal: { dealId: string; engine: string; amount: number }) => number;
}

/** Every deal ends with a typed result: executed, denied, failed with compensation, or waiting for reconciliation. */
export function checkTypedResults(deals: SentDeal[]): Verdicts {
  const failures: string[] = [];
  const byStatus = new Map<string, number>();
  const denials = new Map<string, number>();
  const waitingCauses = new Map<string, number>();
  for (const deal of deals) {
    const status = statusOf(deal.outcome);
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const { outcome } = deal;
    if (outcome.kind === 'workflow_failed') failures.push(`deal ${deal.dealId}: workflow failed: ${outcome.error}`);
    else if (outcome.kind === 'stuck') failures.push(`deal ${deal.dealId}: no result, stuck at ${outcome.stage}`);
    else {
      const { result } = outcome;
      if (result.dealId !== deal.dealId) failures.push(`deal ${deal.dealId}: result names deal ${result.dealId}`);
      if (result.status === 'failed' && result.compensated !== true)
        failures.push(`deal ${deal.dealId}: failed without compensation`);
      if (!['executed', 'denied', 'failed', 'needs_reconciliation'].includes(result.status))
        failures.push(`deal ${deal.dealId}: unexpected status ${result.status} (apply mode live)`);
      if (result.status === 'needs_reconciliation') {
        // The cause without the deal's own words, so alike causes count together.
        const key = result.cause.replace(/\d+/g, 'N').slice(0, 80);
        waitingCauses.set(key, (waitingCauses.get(key) ?? 0) + 1);
      }
      if (result.status === 'denied') {
        const key = `${result.gate}:${result.reason}`;
        denials.set(key, (denials.get(key) ?? 0) + 1);
      }
    }
  }
  const figures: Record<string, number | string> = { 'deals sent': deals.length };
  for (const status of ['executed', 'denied', 'failed', 'needs_reconciliation', 'workflow_failed', 'stuck'])
    figures[`deals ${status}`] = byStatus.get(status) ?? 0;
  for (const [key, count] of [...denials].sort()) figures[`denied ${key}`] = count;
  for (const [cause, count] of [...waitingCauses].sort()) figures[`waiting: ${cause}`] = count;
  return { failures, figures };
}

interface Ledger {
  exposure: number;
  open: number;
  loss: number;
  actions: number;
}
const emptyLedger = (): Ledger => ({ exposure: 0, open: 0, loss: 0, actions: 0 });

interface Caps {
  exposure: number | null;
  loss: number | null;
  open: number | null;
}

/**
 * Replays the risk events in id order (their ids are taken under the GLOBAL
 * ledger lock every movement holds, so id order is the order the guard saw):
 * every admitted reserve must have fitted every cap at that moment (exposure,
 * open risk, and the loss gate: no reserve once the day's realized loss
 * reached its cap), every cap denial must have been true, and the replayed
 * ledger must equal the ledger table. The loss cap gates new reserves
 * (seed 000): fills already in flight when it is reached may book past it,
 * which is reported as `loss past cap`.
 */
export async function checkLedgerAndCaps(db: Kysely<Database>): Promise<Verdicts & { settled: Map<string, Settle> }> {
  const failures: string[] = [];
  const policies = await db.selectFrom('risk_policy').selectAll().execute();
  const caps = new Map<string, Caps>(
    policies.map((p) => [
      p.engine,
      {
        exposure: p.max_daily_exposure === null ? null : cents(p.max_daily_exposure),
        loss: p.max_daily_loss === null ? null : cents(p.max_daily_loss),
        open: p.max_open_risk === null ? null : cents(p.max_open_risk),
      },
    ]),
  );
  const events = await db.selectFrom('risk_event').selectAll().orderBy('id', 'asc').execute();
  const ledgers = new Map<string, Ledger>();
  const ledger = (engine: string, day: string) => {
    const key = `${engine}|${day}`;
    let l = ledgers.get(key);
    if (!l) ledgers.set(key, (l = emptyLedger()));
    return l;
  };
  const settled = new Map<string, Settle>();
  const reserved = new Map<string, number>();
  let deniedChecked = 0;
  for (const event of events) {
    const details = event.details as { day?: string; realizedLoss?: number; scope?: string };
    const day = details.day ?? 'unknown';
    const amount = cents(event.amount);
    const scopes = event.engine === GLOBAL_ENGINE ? [GLOBAL_ENGINE] : [GLOBAL_ENGINE, event.engine];
    const touched = scopes.map((s) => ({ scope: s, l: ledger(s, day), cap: caps.get(s) }));
    if (event.kind === 'RESERVE' && event.ok) {
      for (const { scope, l, cap } of touched) {
        if (!cap) continue;
        if (cap.exposure !== null && l.exposure + amount > cap.exposure)
          failures.push(
            `over-commit: ${event.idempotency_key} admitted with ${scope} exposure ${money(l.exposure)} + ${money(amount)} > ${money(cap.exposure)}`,
          );
        if (cap.open !== null && l.open + amount > cap.open)
          failures.push(
            `over-commit: ${event.idempotency_key} admitted with ${scope} open risk ${money(l.open)} + ${money(amount)} > ${money(cap.open)}`,
          );
        if (cap.loss !== null && l.loss >= cap.loss)
          failures.push(
            `loss gate: ${event.idempotency_key} admitted with ${scope} realized loss ${money(l.loss)} >= ${money(cap.loss)}`,
          );
      }
      for (const { l } of touched) {
        l.exposure += amount;
        l.open += amount;
        l.actions += 1;
      }
      reserved.set(event.idempotency_key, (reserved.get(event.idempotency_key) ?? 0) + 1);
    } else if (event.kind === 'RESERVE') {
      // A cap denial must be true of the ledger the guard saw (a wrong denial loses business, not money).
      const scoped = touched.find((t) => t.scope === details.scope);
      if (scoped?.cap) {
        const { l, cap } = scoped;
        const wrong =
          (event.reason === 'daily_exposure_exceeded' &&
            cap.exposure !== null &&
            l.exposure + amount <= cap.exposure) ||
          (event.reason === 'open_risk_exceeded' && cap.open !== null && l.open + amount <= cap.open) ||
          (event.reason === 'daily_loss_limit_reached' && cap.loss !== null && l.loss < cap.loss);
        if (wrong) failures.push(`wrong denial: ${event.idempotency_key} denied ${event.reason} at ${details.scope}`);
        deniedChecked += 1;
      }
    } else if (event.kind === 'SETTLE') {
      const loss = cents(details.realizedLoss ?? 0);
      for (const { l } of touched) {
        l.open -= amount;
        l.loss += loss;
      }
      if (settled.has(event.idempotency_key)) failures.push(`settled twice: ${event.idempotency_key}`);
      settled.set(event.idempotency_key, { engine: event.engine, amount, loss });
    } else {
      for (const { l } of touched) {
        l.exposure -= amount;
        l.open -= amount;
        l.actions -= 1;
      }
    }
  }
  for (const [key, count] of reserved) if (count > 1) failures.push(`reserved ${count} times: ${key}`);

  // The ledger table equals the sum of the risk events, and sits within every exposure and open-risk cap.
  const figures: Record<string, number | string> = {};
  const rows = await db.selectFrom('risk_ledger_day').selectAll().orderBy('day').orderBy('engine').execute();
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.engine}|${row.day}`;
    seen.add(key);
    const replayed = ledgers.get(key) ?? emptyLedger();
    const table: Ledger = {
      exposure: cents(row.exposure_used),
      open: cents(row.open_risk_reserved),
      loss: cents(row.realized_loss),
      actions: row.actions,
    };
    for (const field of ['exposure', 'open', 'loss', 'actions'] as const)
      if (table[field] !== replayed[field])
        failures.push(
          `ledger ${row.engine} ${row.day}: ${field} ${table[field]} in the table, ${replayed[field]} from the risk events`,
        );
    const cap = caps.get(row.engine);
    if (cap?.exposure != null && table.exposure > cap.exposure)
      failures.push(
        `over-commit: ${row.engine} ${row.day} exposure ${money(table.exposure)} > cap ${money(cap.exposure)}`,
      );
    if (cap?.open != null && table.open > cap.open)
      failures.push(`over-commit: ${row.engine} ${row.day} open risk ${money(table.open)} > cap ${money(cap.open)}`);
    const capText = (c: number | null | undefined) => (c == null ? 'none' : money(c));
    figures[`${row.engine} exposure / cap`] = `${money(table.exposure)} / ${capText(cap?.exposure)}`;
    figures[`${row.engine} realized loss / cap`] = `${money(table.loss)} / ${capText(cap?.loss)}`;
    if (cap?.loss != null && table.loss > cap.loss)
      figures[`${row.engine} loss past cap (in flight)`] = money(table.loss - cap.loss);
  }
  for (const key of ledgers.keys())
    if (!seen.has(key)) failures.push(`risk events for ${key.replace('|', ' ')} but no ledger row`);
  figures['risk events'] = events.length;
  figures['cap denials replayed'] = deniedChecked;
  return { failures, figures, settled };
}

export interface Settle {
  engine: string;
  /** Cents. */
  amount: number;
  loss: number;
}

/**
 * What the executor saw against what each deal answered and what was settled:
 * - a deal id reaches the executor only along one attempt chain (one workflow
 *   run and activity, attempts rising): anything else is a double execution;
 * - no deal reported denied, failed or dry_run was seen by the executor (ours
 *   never fails, so no failure is its own);
 * - every executed deal was seen to completion and settled with its amount
 *   and the loss the executor booked; nothing else was settled;
 * - the settled sums per engine equal the executor's.
 */
export function checkExecutor(input: VerdictInput, settled: Map<string, Settle>): Verdicts {
  const failures: string[] = [];
  const starts = new Map<string, ExecutorCall[]>();
  const finished = new Map<string, ExecutorCall>();
  for (const call of input.calls) {
    if (call.event === 'start') starts.set(call.dealId, [...(starts.get(call.dealId) ?? []), call]);
    else finished.set(call.dealId, call);
  }
  let retries = 0;
  for (const [dealId, chain] of starts) {
    const first = chain[0]!;
    if (first.workflowId !== dealWorkflowId(dealId))
      failures.push(`deal ${dealId} executed by workflow ${first.workflowId}, not its own`);
    const attempts = new Set<number>();
    for (const call of chain) {
      if (call.workflowId !== first.workflowId || call.runId !== first.runId || call.activityId !== first.activityId)
        failures.push(
          `double execution: deal ${dealId} reached the executor from ${call.workflowId}/${call.runId}/${call.activityId} and ${first.workflowId}/${first.runId}/${first.activityId}`,
        );
      else if (attempts.has(call.attempt))
        failures.push(`double execution: deal ${dealId} attempt ${call.attempt} delivered twice`);
      attempts.add(call.attempt);
    }
    retries += chain.length - 1;
  }

  const sentIds = new Set(input.deals.map((d) => d.dealId));
  for (const dealId of starts.keys())
    if (!sentIds.has(dealId)) failures.push(`executor saw deal ${dealId}, which the harness never sent`);
  const executorSums = new Map<string, { amount: number; loss: number }>();
  const settledSums = new Map<string, { amount: number; loss: number }>();
  const add = (sums: typeof executorSums, engine: string, amount: number, loss: number) => {
    for (const scope of [GLOBAL_ENGINE, engine]) {
      const s = sums.get(scope) ?? { amount: 0, loss: 0 };
      s.amount += amount;
      s.loss += loss;
      sums.set(scope, s);
    }
  };
  let waitingSeen = 0;
  for (const deal of input.deals) {
    const status = statusOf(deal.outcome);
    const seen = starts.has(deal.dealId);
    const key = `deal:${deal.dealId}`;
    const settle = settled.get(key);
    if (['denied', 'failed', 'dry_run'].includes(status) && seen)
      failures.push(`let through: deal ${deal.dealId} reported ${status} but the executor saw it`);
    if (status === 'executed') {
      const finish = finished.get(deal.dealId);
      const loss = cents(input.lossOf(deal));
      if (!finish) failures.push(`deal ${deal.dealId} reported executed, but the executor never finished it`);
      if (deal.outcome.kind === 'closed' && deal.outcome.result.status === 'executed')
        if (cents(deal.outcome.result.realizedLoss) !== loss)
          failures.push(
            `deal ${deal.dealId}: result loss ${deal.outcome.result.realizedLoss}, executor booked ${money(loss)}`,
          );
      if (!settle) failures.push(`deal ${deal.dealId} executed but never settled`);
      else if (settle.amount !== cents(deal.amount) || settle.loss !== loss)
        failures.push(
          `deal ${deal.dealId} settled ${money(settle.amount)} loss ${money(settle.loss)}, sent ${deal.amount} loss ${money(loss)}`,
        );
    } else if (settle) failures.push(`deal ${deal.dealId} is ${status} but was settled`);
    if (settle) add(settledSums, settle.engine, settle.amount, settle.loss);
    // What the executor filled, whatever the deal answered; a deal waiting for reconciliation holds its fill
    // unsettled by design (invariant 9), so it is counted apart.
    const finish = finished.get(deal.dealId);
    if (finish && status !== 'needs_reconciliation')
      add(executorSums, deal.engine, cents(finish.amount), cents(input.lossOf(deal)));
    if (status === 'needs_reconciliation' && seen) waitingSeen += 1;
  }
  for (const [scope, sum] of executorSums) {
    const booked = settledSums.get(scope) ?? { amount: 0, loss: 0 };
    if (booked.amount !== sum.amount || booked.loss !== sum.loss)
      failures.push(
        `${scope}: the executor filled ${money(sum.amount)} (loss ${money(sum.loss)}), the ledger settled ${money(booked.amount)} (loss ${money(booked.loss)})`,
      );
  }
  const figures: Record<string, number | string> = {
    'executor calls': input.calls.filter((c) => c.event === 'start').length,
    'executor deals': starts.size,
    'executor calls past the first per deal': retries,
    'waiting deals the executor saw': waitingSeen,
  };
  for (const [scope, sum] of [...executorSums].sort())
    figures[`${scope} executed (executor)`] = `${money(sum.amount)}, loss ${money(sum.loss)}`;
  return { failures, figures };
}

/**
 * Nothing held once every deal has closed (invariant 2): no reservation still
 * reserved and no permit still issued, except the reservations of deals
 * waiting for reconciliation, which must be held (invariant 9), not lost.
 */
export async function checkNothingHeld(db: Kysely<Database>, deals: SentDeal[]): Promise<Verdicts> {
  const failures: string[] = [];
  const waiting = new Set(deals.filter((d) => d.outcome.kind === 'waiting').map((d) => `deal:${d.dealId}`));
  const held = await db
    .selectFrom('risk_reservation')
    .select(['idempotency_key', 'amount'])
    .where('status', '=', 'reserved')
    .execute();
  const heldKeys = new Set(held.map((r) => r.idempotency_key));
  for (const row of held)
    if (!waiting.has(row.idempotency_key))
      failures.push(`reservation ${row.idempotency_key} left held (${row.amount})`);
  for (const key of waiting)
    if (!heldKeys.has(key)) failures.push(`${key} waits for reconciliation but holds no reservation`);
  const issued = await db
    .selectFrom('execution_permit')
    .select(['id', 'deal_id'])
    .where('status', '=', 'issued')
    .execute();
  for (const permit of issued) failures.push(`permit ${permit.id} of deal ${permit.deal_id} left issued`);
  return {
    failures,
    figures: { 'reservations held at end': held.length, 'permits issued at end': issued.length },
  };
}

/**
 * Invariant 3: each deal's outcome is on the audit chain once, as the status
 * it answered, and `warden audit verify` (verifyAuditChain) passes.
 */
export async function checkAudit(db: Kysely<Database>, deals: SentDeal[]): Promise<Verdicts> {
  const failures: string[] = [];
  const outcomeKinds: string[] = Object.values(AuditKind.deal);
  const rows = await db
    .selectFrom('audit_event')
    .select(['subject', 'kind'])
    .where('kind', 'in', outcomeKinds)
    .where('subject', 'like', 'deal:%')
    .execute();
  const kinds = new Map<string, string[]>();
  for (const row of rows) kinds.set(row.subject, [...(kinds.get(row.subject) ?? []), row.kind]);
  for (const deal of deals) {
    if (deal.outcome.kind !== 'closed' && deal.outcome.kind !== 'waiting') continue;
    const recorded = kinds.get(`deal:${deal.dealId}`) ?? [];
    const expected = AuditKind.deal[deal.outcome.result.status];
    const count = recorded.filter((k) => k === expected).length;
    if (count !== 1) failures.push(`deal ${deal.dealId}: ${count} ${expected} audit events, expected 1`);
  }
  const chain = await verifyAuditChain(db);
  if (!chain.ok)
    failures.push(`audit chain broken at event ${chain.brokenAt.id} (${chain.brokenAt.kind}): ${chain.problem}`);
  return { failures, figures: { 'audit events': chain.events, 'audit verify': chain.ok ? 'ok' : 'BROKEN' } };
}

/** All of the above, merged. */
export async function loadVerdicts(input: VerdictInput): Promise<Verdicts> {
  const typed = checkTypedResults(input.deals);
  const ledger = await checkLedgerAndCaps(input.db);
  const executor = checkExecutor(input, ledger.settled);
  const held = await checkNothingHeld(input.db, input.deals);
  const audit = await checkAudit(input.db, input.deals);
  const parts = [typed, ledger, executor, held, audit];
  return {
    failures: parts.flatMap((p) => p.failures),
    figures: Object.assign({}, ...parts.map((p) => p.figures)) as Record<string, number | string>,
  };
}
