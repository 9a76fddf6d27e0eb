import type { CommandStatus } from '../autonomy/metrics';
import { DEFAULT_COMMAND_EXECUTION_CLASS } from '../autonomy/commands';
import type { ExecutionClass } from '../control-plane/types';
import { type AdmissionRequest, stricterClass } from '../deals/policy';
import type { DealResult, DealTerms } from '../deals/types';
import { type Scorecard, toScorecard } from '../prod-eligibility/rules';
import { utcDay } from '../risk/rules';

// The replay's inputs from what Warden already records: a deal's claim (terms, result, what it asked at
// admission), its risk events, the recommendation and sandbox trials behind its prod gate, the kill switch
// and pause restrictions as they stood; a command's record and its audit event. Pure: src/db reads the rows.

/** Admission's inputs other than the policies, as admitDeal records them on the deal's claim. */
export type AdmissionInputs = Omit<AdmissionRequest, 'policy' | 'strategy'>;

/** One deal as Warden recorded it: what it asked, and what the gates the document does not govern said. */
export interface RecordedDeal {
  dealId: string;
  /** When it asked (or would have asked) the risk guard: its reserve, else its claim. ISO-8601. */
  at: string;
  engine: string;
  /** What it asked the risk guard for (the strategy's sizing included), else its terms' amount. */
  amount: number;
  /** Admission's inputs other than the policies: what the producer asked and what could execute it. */
  admission: AdmissionInputs;
  /** The kill switch as it stood at `at` (go-live and the apply mode are the document's). */
  killSwitchEngaged: boolean;
  /** Engines (GLOBAL included) under an active pause restriction at `at`. */
  pausedEngines: readonly string[];
  /** The named recommendation as stored; null when it was named but not found. */
  recommendation?: { domain: string; confidence: number } | null;
  /** That domain's sandbox scorecard for the day, as of `at`. */
  scorecard?: Scorecard;
  /** The strategy gate's word (not replayed: the document holds only part of its inputs). */
  strategy?: { denied: string } | { ended: 'shadow' | 'paper' };
  /** The permit gate's denial, when it denied the deal (rate windows are not policy). */
  permitDenied?: string;
  /** What the executor did, when the deal reached it: settled with a loss, failed, or unknown (held). */
  executor?: { settled: { at: string; realizedLoss: number } } | { failed: { at: string } } | { ambiguous: true };
}

/** One command as Warden recorded it. */
export interface RecordedCommand {
  commandId: string;
  commandType: string;
  at: string;
  killSwitchEngaged: boolean;
  requestedClass?: ExecutionClass;
  executorAvailable: boolean;
  /** Refused because a circuit breaker paused its type (breakers are not replayed). */
  pausedType: boolean;
  /** Whitelisted in its phase: it runs without a human. */
  autonomous: boolean;
  /** A human's decision, when one was asked and given. */
  decision?: { approved: true; approver: string; role: string } | { approved: false; reason: 'rejected' | 'timed_out' };
}

export interface RecordedGateInputs {
  /** The window replayed, ISO-8601: whole UTC days, so every ledger starts the day empty. */
  from: string;
  to: string;
  deals: readonly RecordedDeal[];
  commands: readonly RecordedCommand[];
}

const DAY_MS = 86_400_000;

/** The last `days` whole UTC days up to `at`: every ledger in it starts its day empty, as the risk guard's does. */
export function replayWindow(at: Date, days = 7): { from: string; to: string } {
  return { from: `${utcDay(new Date(at.getTime() - (days - 1) * DAY_MS))}T00:00:00.000Z`, to: at.toISOString() };
}

export interface ClaimRecord {
  dealId: string;
  createdAt: string;
  terms: DealTerms;
  result: DealResult | null;
  /** Null for claims made before admitDeal recorded it. */
  admission: AdmissionInputs | null;
}

export interface RiskEventRecord {
  /** The reservation's key, `deal:<dealId>`. */
  key: string;
  kind: 'RESERVE' | 'SETTLE' | 'RELEASE';
  ok: boolean;
  at: string;
  amount: number;
  realizedLoss: number | null;
}

export interface CommandRecord {
  commandId: string;
  commandType: string;
  at: string;
  autonomous: boolean;
  status: CommandStatus;
  approval: 'approved' | 'rejected' | 'timed_out' | 'refused_paused' | null;
  approver: string | null;
  role: string | null;
  /** From the command's audit event: the effective class and, when a gate denied it, the reason. */
  executionClass: ExecutionClass | null;
  denialReason: string | null;
}

export interface GateRecords {
  from: string;
  to: string;
  claims: readonly ClaimRecord[];
  riskEvents: readonly RiskEventRecord[];
  /** The recommendation each deal's prod gate judged (its audit event), for claims without admission inputs. */
  recommendationOfDeal: Readonly<Record<string, string>>;
  recommendations: Readonly<Record<string, { domain: string; confidence: number }>>;
  trials: readonly { domain: string; at: string; success: boolean; confidence: number }[];
  /** The kill switch's changes in the window (oldest first) and its state now. */
  killSwitch: { changes: readonly { at: string; before: boolean; after: boolean }[]; now: boolean };
  pauses: readonly { engine: string; from: string; until: string | null }[];
  commands: readonly CommandRecord[];
  /** Each command type's class now (a type without a policy is PROD_EXEC). */
  commandClasses: Readonly<Record<string, ExecutionClass>>;
}

/** The kill switch at `at`: after the last change before it, else before the first after it, else as now. */
function killSwitchAt(ks: GateRecords['killSwitch'], at: string): boolean {
  let state: boolean | undefined;
  for (const change of ks.changes) {
    if (change.at <= at) state = change.after;
    else return state ?? change.before;
  }
  return state ?? ks.now;
}

function dealOf(claim: ClaimRecord, r: GateRecords, events: readonly RiskEventRecord[]): RecordedDeal | undefined {
  const { result, terms } = claim;
  // A refused claim is another run's outcome, never a deal of its own.
  if (result?.status === 'denied' && result.gate === 'claim') return undefined;
  const reserve = events.find((e) => e.kind === 'RESERVE');
  const at = reserve?.at ?? claim.createdAt;
  const admission: AdmissionInputs = claim.admission ?? {
    requestedClass: terms.executionClass as ExecutionClass,
    strategyId: terms.strategyId ?? undefined,
    recommendationId: r.recommendationOfDeal[claim.dealId],
    executorTaskQueue: undefined,
    ownTaskQueue: '',
    executorServed: !(result?.status === 'denied' && result.reason === 'no_executor'),
  };
  const rec = admission.recommendationId === undefined ? undefined : r.recommendations[admission.recommendationId];
  const deal: RecordedDeal = {
    dealId: claim.dealId,
    at,
    engine: terms.engine,
    amount: reserve?.amount ?? terms.amount,
    admission,
    killSwitchEngaged: killSwitchAt(r.killSwitch, at),
    pausedEngines: r.pauses.filter((p) => p.from <= at && (p.until === null || p.until > at)).map((p) => p.engine),
  };
  if (admission.recommendationId !== undefined) deal.recommendation = rec ?? null;
  if (rec) {
    const day = utcDay(new Date(at));
    const trials = r.trials.filter((t) => t.domain === rec.domain && t.at <= at && utcDay(new Date(t.at)) === day);
    deal.scorecard = toScorecard({
      domain: rec.domain,
      day,
      trials: trials.length,
      successes: trials.filter((t) => t.success).length,
      confidence_sum: trials.reduce((sum, t) => sum + t.confidence, 0),
    });
  }
  if (result?.status === 'denied' && result.gate === 'strategy') deal.strategy = { denied: result.reason };
  if (result?.status === 'shadow' || result?.status === 'paper') deal.strategy = { ended: result.status };
  if (result?.status === 'denied' && result.gate === 'permit') deal.permitDenied = result.reason;
  const settle = events.find((e) => e.kind === 'SETTLE');
  const release = events.find((e) => e.kind === 'RELEASE');
  if (result?.status === 'executed' && settle)
    deal.executor = { settled: { at: settle.at, realizedLoss: settle.realizedLoss ?? 0 } };
  else if (result?.status === 'failed') deal.executor = { failed: { at: release?.at ?? at } };
  else if (result?.status === 'needs_reconciliation') deal.executor = { ambiguous: true };
  return deal;
}

function commandOf(c: CommandRecord, r: GateRecords): RecordedCommand {
  const policyClass = r.commandClasses[c.commandType] ?? DEFAULT_COMMAND_EXECUTION_CLASS;
  // Only a class stricter than the type's own can have been the producer's ask.
  const asked =
    c.executionClass !== null &&
    c.executionClass !== policyClass &&
    stricterClass(c.executionClass, policyClass) === c.executionClass
      ? c.executionClass
      : undefined;
  const command: RecordedCommand = {
    commandId: c.commandId,
    commandType: c.commandType,
    at: c.at,
    killSwitchEngaged: killSwitchAt(r.killSwitch, c.at),
    executorAvailable: c.denialReason !== 'no_executor',
    pausedType: c.approval === 'refused_paused',
    autonomous: c.autonomous,
    ...(asked ? { requestedClass: asked } : {}),
  };
  if (c.approval === 'approved' && c.approver !== null && c.role !== null)
    command.decision = { approved: true, approver: c.approver, role: c.role };
  if (c.approval === 'rejected' || c.approval === 'timed_out')
    command.decision = { approved: false, reason: c.approval };
  return command;
}

/** The recorded gate inputs of the window, from the rows that hold them. */
export function assembleGateInputs(r: GateRecords): RecordedGateInputs {
  const eventsOf = new Map<string, RiskEventRecord[]>();
  for (const e of [...r.riskEvents].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)))
    eventsOf.set(e.key, [...(eventsOf.get(e.key) ?? []), e]);
  const deals = r.claims.flatMap((c) => dealOf(c, r, eventsOf.get(`deal:${c.dealId}`) ?? []) ?? []);
  return { from: r.from, to: r.to, deals, commands: r.commands.map((c) => commandOf(c, r)) };
}
