import { DEFAULT_COMMAND_EXECUTION_CLASS, decideCommandGate } from '../autonomy/commands';
import { enforceControlPlane } from '../control-plane/rules';
import { type ApplyMode, type ControlPlaneState, INITIAL_CONTROL_PLANE_STATE } from '../control-plane/types';
import { decideAdmission, defaultExecutionPolicy, effectiveApplyMode } from '../deals/policy';
import { evaluateProdGate } from '../prod-eligibility/rules';
import { decideReservation } from '../risk/reservations';
import { EMPTY_LEDGER, GLOBAL_ENGINE, type LedgerDay, type RiskPolicy, utcDay } from '../risk/rules';
import type { PolicyDocument } from './changes';
import type { RecordedCommand, RecordedDeal, RecordedGateInputs } from './replay-inputs';

// `warden policy plan`'s replay: the recorded gate inputs of the last days, run through the current and the
// proposed document with the gates' own pure decisions (admission, control plane, risk caps on a running
// ledger, prod eligibility, the command gate). The two replays are compared with each other, never with what
// happened, so what the replay cannot know (a gate the document does not govern, a loss never booked) weighs
// the same on both sides and only the document's difference shows.

/** Where an action ends: denied at a gate, or through them all (in a mode, or short of execution). */
export type ReplayOutcome =
  { gate: string; reason: string } | { result: ApplyMode | 'shadow' | 'paper' | 'awaiting_approval' };

export type ReplaySubject = 'deal' | 'command';

/** Per gate and reason: actions the proposal would deny there that the current policy does not, and the reverse. */
export interface ReplayCount {
  subject: ReplaySubject;
  gate: string;
  reason: string;
  wouldNowDeny: number;
  wouldNowAllow: number;
}

/** Actions through every gate both times, in another mode (e.g. dry_run → testnet). */
export interface ReplayShift {
  subject: ReplaySubject;
  from: string;
  to: string;
  count: number;
}

export interface ReplayReport {
  from: string;
  to: string;
  replayed: { deals: number; commands: number };
  changed: { deals: number; commands: number };
  counts: ReplayCount[];
  shifts: ReplayShift[];
}

const cents = (n: number) => Math.round(n * 100);
const money = (c: number) => c / 100;

function controlPlaneOf(doc: PolicyDocument, killSwitchEngaged: boolean): ControlPlaneState {
  const { goLive, applyMode } = doc.controlPlane;
  return { ...INITIAL_CONTROL_PLANE_STATE, goLiveEnabled: goLive, applyMode, killSwitchEngaged };
}

function riskPolicyOf(doc: PolicyDocument, engine: string, paused: readonly string[]): RiskPolicy | undefined {
  const settings = doc.risk[engine];
  return settings ? { engine, ...settings, paused: paused.includes(engine) } : undefined;
}

/** A day's ledgers as the replay runs, by engine (GLOBAL sums every engine, as the risk guard keeps it). */
class Ledgers {
  private readonly days = new Map<string, LedgerDay>();
  get(engine: string, day: string): LedgerDay {
    return this.days.get(`${engine}|${day}`) ?? EMPTY_LEDGER;
  }
  set(engine: string, day: string, ledger: LedgerDay): void {
    this.days.set(`${engine}|${day}`, ledger);
  }
  /** Settle (open risk back, loss booked) or release (exposure, open risk and the action back) on both rows. */
  close(engine: string, day: string, amount: number, how: { settled: number } | 'released'): void {
    for (const e of engine === GLOBAL_ENGINE ? [GLOBAL_ENGINE] : [GLOBAL_ENGINE, engine]) {
      const l = this.get(e, day);
      this.set(
        e,
        day,
        how === 'released'
          ? {
              exposureUsed: money(cents(l.exposureUsed) - cents(amount)),
              openRiskReserved: money(cents(l.openRiskReserved) - cents(amount)),
              realizedLoss: l.realizedLoss,
              actions: l.actions - 1,
            }
          : {
              ...l,
              openRiskReserved: money(cents(l.openRiskReserved) - cents(amount)),
              realizedLoss: money(cents(l.realizedLoss) + cents(how.settled)),
            },
      );
    }
  }
}

interface Close {
  at: string;
  engine: string;
  day: string;
  amount: number;
  how: { settled: number } | 'released';
}

/** One deal through the gates in the workflow's order, on the ledgers as they stand at its `at`. */
function decideDeal(
  deal: RecordedDeal,
  doc: PolicyDocument,
  ledgers: Ledgers,
): { outcome: ReplayOutcome; close?: Close } {
  const settings = doc.engines[deal.engine];
  const policy = settings ? { engine: deal.engine, ...settings } : defaultExecutionPolicy(deal.engine);
  const { strategyId } = deal.admission;
  const strategy = strategyId === undefined ? undefined : doc.strategies[strategyId];
  const admission = decideAdmission({ ...deal.admission, policy, strategy });
  if (!admission.admitted) return { outcome: { gate: 'policy', reason: admission.reason } };
  const entry = enforceControlPlane(admission.executionClass, controlPlaneOf(doc, deal.killSwitchEngaged));
  if (!entry.allowed) return { outcome: { gate: 'control_plane', reason: entry.reason } };
  if (deal.strategy)
    return {
      outcome:
        'denied' in deal.strategy
          ? { gate: 'strategy', reason: deal.strategy.denied }
          : { result: deal.strategy.ended },
    };

  const day = utcDay(new Date(deal.at));
  const { decision, after } = decideReservation(
    { key: `deal:${deal.dealId}`, engine: deal.engine, amount: deal.amount },
    day,
    {
      global: ledgers.get(GLOBAL_ENGINE, day),
      engine: ledgers.get(deal.engine, day),
      policies: {
        global: riskPolicyOf(doc, GLOBAL_ENGINE, deal.pausedEngines),
        engine: riskPolicyOf(doc, deal.engine, deal.pausedEngines),
      },
    },
  );
  if (!decision.ok) return { outcome: { gate: 'risk', reason: decision.reason } };
  ledgers.set(GLOBAL_ENGINE, day, after.global);
  if (deal.engine !== GLOBAL_ENGINE) ledgers.set(deal.engine, day, after.engine);
  const held = { engine: deal.engine, day, amount: deal.amount };
  // Whatever ends the deal short of its executor compensates at once: the reservation goes back.
  const released = (outcome: ReplayOutcome) => ({ outcome, close: { ...held, at: deal.at, how: 'released' as const } });

  if (deal.admission.recommendationId !== undefined) {
    const rec = deal.recommendation;
    if (!rec) return released({ gate: 'prod_eligibility', reason: 'recommendation_missing' });
    const heimdall = doc.heimdall[rec.domain];
    const gate = evaluateProdGate(heimdall && { domain: rec.domain, ...heimdall }, deal.scorecard, rec.confidence);
    if (!gate.ok) return released({ gate: 'prod_eligibility', reason: gate.reason });
  }
  if (deal.permitDenied !== undefined) return released({ gate: 'permit', reason: deal.permitDenied });
  const mode = effectiveApplyMode(admission.executionClass, entry.applyMode);
  if (mode === 'dry_run') return released({ result: 'dry_run' });
  const outcome: ReplayOutcome = { result: mode };
  const executor = deal.executor;
  // A deal that never reached its executor has no recorded loss or end: it is held for the rest of the day.
  if (!executor || 'ambiguous' in executor) return { outcome };
  if ('failed' in executor) return { outcome, close: { ...held, at: executor.failed.at, how: 'released' } };
  return { outcome, close: { ...held, at: executor.settled.at, how: { settled: executor.settled.realizedLoss } } };
}

/** Every deal in the order it reached the risk guard; a reservation settles or goes back when it did then. */
export function replayDeals(deals: readonly RecordedDeal[], doc: PolicyDocument): Map<string, ReplayOutcome> {
  const ordered = [...deals].sort((a, b) => (a.at === b.at ? cmp(a.dealId, b.dealId) : cmp(a.at, b.at)));
  const ledgers = new Ledgers();
  const pending: Close[] = [];
  const outcomes = new Map<string, ReplayOutcome>();
  for (const deal of ordered) {
    pending.sort((a, b) => cmp(a.at, b.at));
    while (pending.length > 0 && pending[0]!.at <= deal.at) {
      const c = pending.shift()!;
      ledgers.close(c.engine, c.day, c.amount, c.how);
    }
    const { outcome, close } = decideDeal(deal, doc, ledgers);
    outcomes.set(deal.dealId, outcome);
    if (close) pending.push(close);
  }
  return outcomes;
}

/** A command through its gates in the workflow's order: paused type, control plane and class, a human, executor. */
export function replayCommand(command: RecordedCommand, doc: PolicyDocument): ReplayOutcome {
  if (command.pausedType) return { gate: 'breaker', reason: 'command_type_paused' };
  const gate = decideCommandGate({
    policyClass: doc.commandTypes[command.commandType]?.executionClass ?? DEFAULT_COMMAND_EXECUTION_CLASS,
    safeInReduce: doc.commandTypes[command.commandType]?.safeInReduce,
    commandType: command.commandType,
    requestedClass: command.requestedClass,
    state: controlPlaneOf(doc, command.killSwitchEngaged),
    executorAvailable: command.executorAvailable,
  });
  if (!gate.allowed) return { gate: gate.gate, reason: gate.reason };
  if (!command.autonomous) {
    const decision = command.decision;
    if (!decision) return { result: 'awaiting_approval' };
    if (!decision.approved) return { gate: 'approval', reason: decision.reason };
    const allowlist: readonly string[] = (doc.approvers as Record<string, string[] | undefined>)[decision.role] ?? [];
    if (!allowlist.includes(decision.approver)) return { gate: 'approval', reason: 'approver_not_allowed' };
  }
  return { result: gate.applyMode };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isDenial = (o: ReplayOutcome): o is { gate: string; reason: string } => 'gate' in o;
const same = (a: ReplayOutcome, b: ReplayOutcome) =>
  isDenial(a) && isDenial(b)
    ? a.gate === b.gate && a.reason === b.reason
    : !isDenial(a) && !isDenial(b) && a.result === b.result;

/** Tallies where the two replays part: a denial left (wouldNowAllow), a denial arrived (wouldNowDeny), a mode moved. */
function compare(
  subject: ReplaySubject,
  current: ReadonlyMap<string, ReplayOutcome>,
  proposed: ReadonlyMap<string, ReplayOutcome>,
  counts: Map<string, ReplayCount>,
  shifts: Map<string, ReplayShift>,
): number {
  let changed = 0;
  const row = (o: { gate: string; reason: string }) => {
    const key = `${subject}|${o.gate}|${o.reason}`;
    const found = counts.get(key) ?? { subject, gate: o.gate, reason: o.reason, wouldNowDeny: 0, wouldNowAllow: 0 };
    counts.set(key, found);
    return found;
  };
  for (const [id, before] of current) {
    const after = proposed.get(id)!;
    if (same(before, after)) continue;
    changed += 1;
    if (isDenial(before)) row(before).wouldNowAllow += 1;
    if (isDenial(after)) row(after).wouldNowDeny += 1;
    if (!isDenial(before) && !isDenial(after)) {
      const key = `${subject}|${before.result}|${after.result}`;
      const found = shifts.get(key) ?? { subject, from: before.result, to: after.result, count: 0 };
      found.count += 1;
      shifts.set(key, found);
    }
  }
  return changed;
}

/** The recorded inputs under both documents, and where they part, by gate and reason. */
export function replayPolicies(
  inputs: RecordedGateInputs,
  current: PolicyDocument,
  proposed: PolicyDocument,
): ReplayReport {
  const counts = new Map<string, ReplayCount>();
  const shifts = new Map<string, ReplayShift>();
  const commandsUnder = (doc: PolicyDocument) =>
    new Map(inputs.commands.map((c) => [c.commandId, replayCommand(c, doc)] as const));
  const deals = compare(
    'deal',
    replayDeals(inputs.deals, current),
    replayDeals(inputs.deals, proposed),
    counts,
    shifts,
  );
  const commands = compare('command', commandsUnder(current), commandsUnder(proposed), counts, shifts);
  const order = (a: { subject: string }, b: { subject: string }, ka: string, kb: string) =>
    a.subject === b.subject ? cmp(ka, kb) : cmp(a.subject, b.subject);
  return {
    from: inputs.from,
    to: inputs.to,
    replayed: { deals: inputs.deals.length, commands: inputs.commands.length },
    changed: { deals, commands },
    counts: [...counts.values()].sort((a, b) => order(a, b, `${a.gate}|${a.reason}`, `${b.gate}|${b.reason}`)),
    shifts: [...shifts.values()].sort((a, b) => order(a, b, `${a.from}|${a.to}`, `${b.from}|${b.to}`)),
  };
}
