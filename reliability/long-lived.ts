// Issue 15 item 6, long-lived: the control plane through tens of thousands of
// signals and an expansion proposal through thousands, sent concurrently in
// batches. Verdicts come from Temporal's own histories (every run, walked back
// through continue-as-new) and from the audit log, never from Warden's counters:
// history stays bounded per run, every signal sent reached a run, the final
// state is the one the accepted signals produce, and nothing accepted was lost.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { addApprover } from '../src/db/autonomy.repository';
import { readControlPlaneState } from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import { recordExpansionProposal } from '../src/db/expansion-proposals.repository';
import { type RecordedProposalTerms, type ProposalView, SPILLED_MESSAGE } from '../src/domain/autonomy/proposals';
import { AuditKind } from '../src/domain/audit/kinds';
import {
  CONTROL_PLANE_OVERFLOW_KIND,
  CONTROL_PLANE_REJECTION_KIND,
  CONTROL_PLANE_SUBJECT,
} from '../src/domain/control-plane/rules';
import { type ControlPlaneState, type ControlPlaneView } from '../src/domain/control-plane/types';
import type { controlPlane } from '../workflows/control-plane';
import type { expansionProposal } from '../workflows/expansion-proposal';
import {
  approveSignal,
  controlPlaneStateQuery,
  declineKillSwitchReleaseSignal,
  engageKillSwitchSignal,
  proposalStatusQuery,
  refreshCapitalBandSignal,
  rejectSignal,
  releaseKillSwitchSignal,
  restrictEngineSignal,
  setApplyModeSignal,
} from '../workflows/messages';
import {
  CONTROL_PLANE_WORKFLOW_ID,
  CONTROL_PLANE_WORKFLOW_TYPE,
  EXPANSION_PROPOSAL_WORKFLOW_TYPE,
} from '../workflows/names';

export interface LongLivedOptions {
  client: Client;
  taskQueue: string;
  db: Kysely<Database>;
  controlPlaneSignals: number;
  proposalSignals: number;
  /** Continue-as-new thresholds handed to the workflows as their optional inputs (defaults: theirs). */
  controlPlaneSignalsPerRun?: number;
  proposalMessagesPerRun?: number;
  /** Signals in flight at once. */
  batch?: number;
  /** Proposal signals sent before waiting for the proposal to judge them (default: no waiting, a sustained flood). */
  proposalBurst?: number;
  /** Largest history one run may reach before the verdict fails. */
  maxEventsPerRun?: number;
  /** The proposal's workflow id (a fresh one per call). */
  proposalId: string;
  /** Progress lines, as each phase ends. */
  log?: (line: string) => void;
}

export interface WorkflowFigures {
  signalsSent: number;
  /** Signals Temporal recorded across every run. */
  signalsRecorded: number;
  /** Signals sent that no run recorded (matched by name and payload): must be 0. */
  signalsMissing: number;
  /**
   * Signals recorded twice: a client's retry of a signal that had landed, reaching the next run after a
   * continue-as-new (Temporal dedupes a signal's request id only within one run). Reported, not a loss.
   */
  signalsDuplicated: number;
  runs: number;
  /** Continue-as-new hand-overs (runs − 1). */
  continuedAsNew: number;
  maxEventsPerRun: number;
  eventsTotal: number;
  stateChecks: { passed: number; failed: string[] };
  /** Accepted signals with no trace (audit row or persisted change): must be 0. */
  dropped: number;
  /** Refused by a full queue or hand-over (audited in aggregate, not dropped silently). */
  refusedByBackpressure: number;
  seconds: number;
}

export interface LongLivedFigures {
  controlPlane: WorkflowFigures;
  proposal: WorkflowFigures;
  seconds: number;
  ok: boolean;
}

/** Runs `count` tasks, `width` at a time, in order of index. */
async function inBatches(
  count: number,
  width: number,
  task: (i: number) => Promise<void>,
  before?: () => Promise<void>,
) {
  for (let start = 0; start < count; start += width) {
    await before?.();
    await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => task(start + k)));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Handle = ReturnType<Client['workflow']['getHandle']>;
type Tally = Map<string, number>;
const signalKey = (name: string, payload: unknown) => `${name} ${JSON.stringify(payload) ?? 'none'}`;
const add = (tally: Tally, key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

/** A handle that tallies every signal it sends, by name and payload, to match against the histories. */
function tallied(handle: Handle, sent: Tally): Handle {
  const signal: Handle['signal'] = async (def, ...args) => {
    await handle.signal(def, ...args);
    add(sent, signalKey(typeof def === 'string' ? def : def.name, args[0]));
  };
  return Object.assign(Object.create(handle) as Handle, { signal });
}

/** Every signal sent reached some run (missing), and how many were recorded more often than sent. */
function matchSignals(sent: Tally, recorded: Tally): { missing: number; duplicated: number } {
  let missing = 0;
  let duplicated = 0;
  for (const [key, n] of sent) missing += Math.max(0, n - (recorded.get(key) ?? 0));
  for (const [key, n] of recorded) duplicated += Math.max(0, n - (sent.get(key) ?? 0));
  return { missing, duplicated };
}

/**
 * Every run of a workflow, newest first, walked back through `continuedExecutionRunId`; with its event
 * counts and its signals tallied by name and payload.
 */
async function walkRuns(
  client: Client,
  workflowId: string,
): Promise<{ runs: number; events: number[]; signals: number; recorded: Tally }> {
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  const events: number[] = [];
  const recorded: Tally = new Map();
  let signals = 0;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const all = history.events ?? [];
    events.push(all.length);
    for (const e of all) {
      const signal = e.workflowExecutionSignaledEventAttributes;
      if (signal == null) continue;
      signals += 1;
      const data = signal.input?.payloads?.[0]?.data;
      add(recorded, signalKey(signal.signalName ?? '', data ? JSON.parse(Buffer.from(data).toString()) : undefined));
    }
    runId = all[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return { runs: events.length, events, signals, recorded };
}

/** Polls until `done` holds or the deadline passes; answers the last value seen, or names the last error. */
async function until<T>(read: () => Promise<T | undefined>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let failure: unknown;
  for (;;) {
    const value = await read().catch((error: unknown) => void (failure = error));
    if (value !== undefined && done(value)) return value;
    if (Date.now() > deadline) {
      const seen =
        value === undefined ? `no value; last error: ${String(failure)}` : JSON.stringify(value)?.slice(0, 500);
      throw new Error(`not settled in ${timeoutMs} ms: ${seen}`);
    }
    await sleep(100);
  }
}

class Checks {
  passed = 0;
  readonly failed: string[] = [];
  check(ok: boolean, what: string): void {
    if (ok) this.passed += 1;
    else this.failed.push(what);
  }
  equal(actual: unknown, expected: unknown, what: string): void {
    this.check(
      JSON.stringify(actual) === JSON.stringify(expected),
      `${what}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`,
    );
  }
}

// ---------------------------------------------------------------- control plane

const ENGINES = ['LLA', 'LLB', 'LLC'] as const;
const KINDS = ['throttle', 'pause'] as const;
type Sent =
  | { signal: 'engage'; malformed: boolean }
  | { signal: 'release' | 'decline' | 'refresh' | 'invalid' }
  | { signal: 'restrict'; engine: string; kind: string }
  | { signal: 'applyMode'; mode: 'testnet' | 'dry_run' };

/** The i-th control-plane signal of the mix, as sent (deterministic in i). */
function controlPlaneSignal(i: number): {
  sent: Sent;
  send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void>;
} {
  const actor = `ll-${i % 7}`;
  const slot = i % 20;
  if (slot === 0)
    return {
      sent: { signal: 'engage', malformed: false },
      send: (h) => h.signal(engageKillSwitchSignal, { source: 'operator', actor: 'll-engager', reason: `drill ${i}` }),
    };
  if (slot === 1 && i % 100 === 1)
    return {
      // A malformed engage still engages (recorded as malformed).
      sent: { signal: 'engage', malformed: true },
      send: (h) =>
        h.signal(engageKillSwitchSignal, {
          source: 'NOT A SOURCE',
          actor: 'll-engager',
          reason: `drill ${i}`,
        } as never),
    };
  if (slot <= 3)
    return {
      sent: { signal: 'release' },
      send: (h) => h.signal(releaseKillSwitchSignal, { actor, role: 'risk_officer', reason: `release ${i}` }),
    };
  if (slot === 4)
    return {
      sent: { signal: 'decline' },
      send: (h) => h.signal(declineKillSwitchReleaseSignal, { actor, role: 'manager', reason: `decline ${i}` }),
    };
  if (slot <= 9) {
    const engine = ENGINES[i % ENGINES.length]!;
    // The pause on the last engine is never asked for: the expected set is not simply "everything".
    const kind = engine === 'LLC' ? 'throttle' : KINDS[Math.floor(i / 20) % KINDS.length]!;
    return {
      sent: { signal: 'restrict', engine, kind },
      send: (h) =>
        h.signal(restrictEngineSignal, {
          engine,
          restriction: kind,
          source: 'operator:ll',
          actor,
          reason: `restrict ${i}`,
        }),
    };
  }
  if (slot <= 12)
    return { sent: { signal: 'refresh' }, send: (h) => h.signal(refreshCapitalBandSignal, { actor: 'risk-guard' }) };
  if (slot <= 15) {
    const mode = slot === 15 ? 'dry_run' : 'testnet';
    return {
      sent: { signal: 'applyMode', mode },
      send: (h) => h.signal(setApplyModeSignal, { mode, actor, reason: `tighten ${i}` }),
    };
  }
  // Invalid: each must be refused, audited, and change nothing.
  const invalid: [unknown, (h: ReturnType<Client['workflow']['getHandle']>, p: never) => Promise<void>][] = [
    [
      { engine: 'lowercase', restriction: 'pause', source: 'operator', actor, reason: 'x' },
      (h, p) => h.signal(restrictEngineSignal, p),
    ],
    [{ mode: 'live', actor, reason: 'x', extra: true }, (h, p) => h.signal(setApplyModeSignal, p)],
    [{ actor: `nul\u0000${i}`, reason: 'x', role: 'risk_officer' }, (h, p) => h.signal(releaseKillSwitchSignal, p)],
    [{ actor: 42 }, (h, p) => h.signal(refreshCapitalBandSignal, p)],
  ];
  const [payload, send] = invalid[i % invalid.length]!;
  return { sent: { signal: 'invalid' }, send: (h) => send(h, payload as never) };
}

const stateFields = (s: ControlPlaneState) => ({
  goLiveEnabled: s.goLiveEnabled,
  killSwitchEngaged: s.killSwitchEngaged,
  killSwitchSource: s.killSwitchSource,
  killSwitchEngagedBy: s.killSwitchEngagedBy,
  releaseApprovals: s.releaseApprovals.length,
  applyMode: s.applyMode,
  capitalBand: s.capitalBand,
  version: s.version,
});

async function driveControlPlane(options: LongLivedOptions): Promise<WorkflowFigures> {
  const { client, db, taskQueue } = options;
  const started = Date.now();
  const checks = new Checks();
  // Live to begin with, so tightenings tighten; then one engage before the flood, so every release waits out the cooldown.
  await db.updateTable('control_plane_state').set({ apply_mode: 'live' }).execute();
  const handle = await client.workflow.start<typeof controlPlane>(CONTROL_PLANE_WORKFLOW_TYPE, {
    workflowId: CONTROL_PLANE_WORKFLOW_ID,
    taskQueue,
    args: [options.controlPlaneSignalsPerRun === undefined ? {} : { signalsPerRun: options.controlPlaneSignalsPerRun }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  const sentSignals: Tally = new Map();
  const cp = tallied(client.workflow.getHandle(handle.workflowId), sentSignals);
  const view = () => cp.query(controlPlaneStateQuery) as Promise<ControlPlaneView>;
  await cp.signal(engageKillSwitchSignal, { source: 'operator', actor: 'll-engager', reason: 'before the flood' });
  await until(view, (v) => v.killSwitchEngaged && v.pendingChanges === 0, 30_000);

  const sent: Sent[] = [];
  const width = options.batch ?? 64;
  // Paced by the queue the control plane reports, so its backpressure (256 queued) is rarely what answers.
  await inBatches(
    options.controlPlaneSignals,
    width,
    async (i) => {
      const { sent: s, send } = controlPlaneSignal(i);
      sent[i] = s;
      await send(cp);
    },
    async () => void (await until(view, (v) => v.pendingChanges <= 128 - width, 120_000)),
  );
  options.log?.(`control plane: ${options.controlPlaneSignals} sent in ${(Date.now() - started) / 1000} s`);
  // What was sent, by kind, against the audit log.
  const count = (p: (s: Sent) => boolean) => sent.filter(p).length;
  const tally = async () => {
    const rows = await db
      .selectFrom('audit_event')
      .select(['id', 'kind', 'details'])
      .where('subject', '=', CONTROL_PLANE_SUBJECT)
      .orderBy('id')
      .execute();
    const byChange = (kind: string) =>
      rows.filter((r) => (r.details.change as { kind?: string } | undefined)?.kind === kind);
    const overflowed = rows
      .filter((r) => r.kind === CONTROL_PLANE_OVERFLOW_KIND)
      .reduce((n, r) => n + Number((r.details as { dropped?: number }).dropped ?? 0), 0);
    const engages = byChange('engageKillSwitch');
    const audited = {
      engages: engages.length,
      malformed: engages.filter((r) => r.details.malformed !== undefined).length,
      releases: byChange('releaseKillSwitch').length,
      declines: byChange('declineKillSwitchRelease').length,
      restricts: byChange('restrictEngine').length,
      applyModes: byChange('setApplyMode').length,
      invalid: rows.filter((r) => r.kind === CONTROL_PLANE_REJECTION_KIND).length,
    };
    const traced = Object.values(audited).reduce((a, b) => a + b, 0) - audited.malformed + overflowed;
    return { rows, audited, overflowed, traced };
  };
  const expected = {
    engages: count((s) => s.signal === 'engage') + 2,
    malformed: count((s) => s.signal === 'engage' && s.malformed),
    releases: count((s) => s.signal === 'release'),
    declines: count((s) => s.signal === 'decline'),
    restricts: count((s) => s.signal === 'restrict'),
    applyModes: count((s) => s.signal === 'applyMode'),
    invalid: count((s) => s.signal === 'invalid'),
  };
  const owed = Object.values(expected).reduce((a, b) => a + b, 0) - expected.malformed;
  // Once every flood signal is in the audit log (an engage jumps the queue, and the marker must be the last
  // change; an empty queue in a query is not enough, as a signal may not have reached the run yet).
  await until(
    async () => ({ ...(await view()), traced: (await tally()).traced }),
    (v) => v.pendingChanges === 0 && v.traced >= owed - 1,
    180_000,
  );
  const marker = { source: 'operator', actor: 'll-final', reason: 'after the flood' };
  await cp.signal(engageKillSwitchSignal, marker);
  const final = await until(view, (v) => v.pendingChanges === 0 && v.killSwitchEngagedBy === 'll-final', 300_000);
  const { rows, audited, overflowed, traced } = await tally();
  // With backpressure some may be refused in aggregate; they are accounted for, not dropped.
  const dropped = Math.max(0, owed - traced);
  if (overflowed === 0) checks.equal(audited, expected, 'audit rows per change kind = signals sent per kind');
  checks.equal(final.droppedChanges ?? 0, 0, 'changes the control plane dropped');

  // State intact: every persisted change starts from the one before it, across every run.
  const changes = rows.filter((r) => r.details.before !== undefined && r.details.after !== undefined);
  let breaks = 0;
  for (let k = 1; k < changes.length; k++) {
    const before = stateFields(changes[k]!.details.before as ControlPlaneState);
    const after = stateFields(changes[k - 1]!.details.after as ControlPlaneState);
    if (JSON.stringify(before) !== JSON.stringify(after)) breaks += 1;
  }
  checks.equal(breaks, 0, 'persisted changes that do not start from the previous one');
  const persisted = await readControlPlaneState(db);
  const last = changes.at(-1)?.details.after as ControlPlaneState | undefined;
  checks.check(last !== undefined, 'some change was persisted');
  if (last) checks.equal(stateFields(persisted), stateFields(last), 'database row = last audited state');
  checks.equal(stateFields(final), stateFields(persisted), 'query = database row');
  // What the accepted signals produce, computed from what was sent.
  checks.equal(
    {
      engaged: final.killSwitchEngaged,
      by: final.killSwitchEngagedBy,
      reason: final.reason,
      approvals: final.releaseApprovals,
    },
    { engaged: true, by: 'll-final', reason: marker.reason, approvals: [] },
    'kill switch after the final engage',
  );
  checks.equal(final.goLiveEnabled, false, 'go-live untouched');
  const tightenedToDry = sent.some((s) => s.signal === 'applyMode' && s.mode === 'dry_run');
  checks.equal(final.applyMode, tightenedToDry ? 'dry_run' : 'testnet', 'apply mode after the tightenings');
  const wanted = [...new Set(sent.flatMap((s) => (s.signal === 'restrict' ? [`${s.engine}/${s.kind}`] : [])))].sort();
  const active = await db
    .selectFrom('engine_restriction')
    .select(['engine', 'kind'])
    .where('cleared_at', 'is', null)
    .where('source', '=', 'operator:ll')
    .execute();
  checks.equal(active.map((r) => `${r.engine}/${r.kind}`).sort(), wanted, 'active restrictions = those asked for');

  const walked = await walkRuns(client, CONTROL_PLANE_WORKFLOW_ID);
  const signalsSent = options.controlPlaneSignals + 2;
  const matched = matchSignals(sentSignals, walked.recorded);
  checks.equal(matched.missing, 0, 'signals sent that no run recorded');
  const maxEvents = Math.max(...walked.events);
  checks.check(maxEvents <= (options.maxEventsPerRun ?? 12_000), `history per run bounded: ${maxEvents} events`);
  return {
    signalsSent,
    signalsRecorded: walked.signals,
    signalsMissing: matched.missing,
    signalsDuplicated: matched.duplicated,
    runs: walked.runs,
    continuedAsNew: walked.runs - 1,
    maxEventsPerRun: maxEvents,
    eventsTotal: walked.events.reduce((a, b) => a + b, 0),
    stateChecks: { passed: checks.passed, failed: checks.failed },
    dropped,
    refusedByBackpressure: overflowed,
    seconds: (Date.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------- proposal

/** The i-th proposal signal: refusable duplicates and spam; the legitimate approvals come first and last. */
function proposalSignal(
  i: number,
  total: number,
): { accepted: boolean; send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void> } {
  if (i === 0)
    return { accepted: true, send: (h) => h.signal(approveSignal, { role: 'tech_lead', approver: 'll-alice' }) };
  // The last one: an approval that spam before it must not starve.
  if (i === total - 1)
    return { accepted: true, send: (h) => h.signal(approveSignal, { role: 'ops_lead', approver: 'll-carol' }) };
  const spam: unknown[] = [
    { role: 'tech_lead', approver: 'll-alice', comment: `again ${i}` }, // a duplicate of a counted approval
    { role: 'ops_lead', approver: 'll-mallory' }, // not an approver
    { role: 'product_lead', approver: 'll-alice' }, // a role not required
    { role: 'ops_lead', approver: 'll-alice' }, // one person, two roles
    { role: 'tech_lead' }, // no approver
    { role: 'ops_lead', approver: `nul\u0000${i}` },
    { role: 'ops_lead', approver: 'll-carol', extra: 1 },
  ];
  const rejects: unknown[] = [
    { role: 'ops_lead', approver: 'll-mallory', reason: `no ${i}` }, // not an approver
    { role: 'ops_lead', approver: 'll-carol' }, // no reason
  ];
  if (i % 9 === 8)
    return { accepted: false, send: (h) => h.signal(rejectSignal, rejects[i % rejects.length] as never) };
  return { accepted: false, send: (h) => h.signal(approveSignal, spam[i % spam.length] as never) };
}

async function driveProposal(options: LongLivedOptions): Promise<WorkflowFigures> {
  const { client, db, taskQueue, proposalId } = options;
  const started = Date.now();
  const checks = new Checks();
  const terms: RecordedProposalTerms = {
    proposalId,
    fromPhase: 'L3+',
    targetPhase: 'L4',
    commands: ['SET_DRUM'],
    validationDays: 30,
    achievements: [],
    risk: { level: 'low', mitigations: [] },
    requiredRoles: ['tech_lead', 'ops_lead'],
    expiresInDays: 14,
    requestedBy: 'll-governance',
  };
  await addApprover(db, 'tech_lead', 'll-alice', 'long-lived');
  await addApprover(db, 'ops_lead', 'll-carol', 'long-lived');
  await recordExpansionProposal(db, terms);
  await db.updateTable('governance_state').set({ current_phase: 'L3+' }).execute();
  await client.workflow.start<typeof expansionProposal>(EXPANSION_PROPOSAL_WORKFLOW_TYPE, {
    workflowId: proposalId,
    taskQueue,
    args: [
      { proposalId, ...(options.proposalMessagesPerRun ? { messagesPerRun: options.proposalMessagesPerRun } : {}) },
    ],
  });
  const sentSignals: Tally = new Map();
  const handle = tallied(client.workflow.getHandle(proposalId), sentSignals);
  const total = options.proposalSignals;
  let accepted = 0;
  const view = () => handle.query(proposalStatusQuery) as Promise<ProposalView>;
  let sent = 0;
  await inBatches(
    options.proposalSignals,
    options.batch ?? 64,
    async (i) => {
      const s = proposalSignal(i, total);
      if (s.accepted) accepted += 1;
      await s.send(handle);
      sent += 1;
    },
    async () => {
      const burst = options.proposalBurst;
      if (burst === undefined || sent === 0 || sent % burst !== 0) return;
      await until(view, (v) => v.rejectedMessages + v.approvals.length >= sent, 120_000);
    },
  );
  const refusedSent = total - accepted;
  options.log?.(`proposal: ${total} sent in ${(Date.now() - started) / 1000} s`);
  const final = await until(view, (v) => v.status !== 'pending' && v.rejectedMessages >= refusedSent, 300_000);
  checks.equal(final.status, 'validating', 'proposal approved and validating');
  checks.equal(
    final.approvals.map((a) => `${a.role}:${a.approver}`).sort(),
    ['ops_lead:ll-carol', 'tech_lead:ll-alice'],
    'approvals counted once each, none lost',
  );
  checks.equal(final.rejectedMessages, refusedSent, 'refusals carried across runs');
  // One row per refusal, or one for every signal a full hand-over refused in aggregate (its count).
  const auditedRefusals = async () => {
    const rows = await db
      .selectFrom('audit_event')
      .select('details')
      .where('subject', '=', `proposal:${proposalId}`)
      .where('kind', '=', AuditKind.autonomy.messageRejected)
      .execute();
    const spills = rows.filter((r) => r.details.message === SPILLED_MESSAGE);
    const spilled = spills.reduce((n, r) => n + Number((r.details.payload as { count?: number }).count ?? 0), 0);
    return { refused: rows.length - spills.length + spilled, spilled };
  };
  // The view counts a refusal as its audit starts: the last audits may still be committing.
  const audited = await until(auditedRefusals, (n) => n.refused >= refusedSent, 30_000).catch(auditedRefusals);
  checks.equal(audited.refused, refusedSent, 'refusals audited (one by one or in aggregate) = refusable signals sent');
  const phase = await db.selectFrom('governance_state').select('current_phase').executeTakeFirstOrThrow();
  checks.equal(phase.current_phase, 'L4', 'phase widened once');

  const walked = await walkRuns(client, proposalId);
  const matched = matchSignals(sentSignals, walked.recorded);
  checks.equal(matched.missing, 0, 'signals sent that no run recorded');
  const maxEvents = Math.max(...walked.events);
  checks.check(maxEvents <= (options.maxEventsPerRun ?? 12_000), `history per run bounded: ${maxEvents} events`);
  return {
    signalsSent: total,
    signalsRecorded: walked.signals,
    signalsMissing: matched.missing,
    signalsDuplicated: matched.duplicated,
    runs: walked.runs,
    continuedAsNew: walked.runs - 1,
    maxEventsPerRun: maxEvents,
    eventsTotal: walked.events.reduce((a, b) => a + b, 0),
    stateChecks: { passed: checks.passed, failed: checks.failed },
    dropped: Math.max(0, refusedSent - audited.refused) + (2 - final.approvals.length),
    refusedByBackpressure: audited.spilled,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Both workflows driven at once; the figures and whether every check held. */
export async function runLongLived(options: LongLivedOptions): Promise<LongLivedFigures> {
  const started = Date.now();
  const [controlPlaneFigures, proposalFigures] = await Promise.all([
    driveControlPlane(options),
    driveProposal(options),
  ]);
  const ok = [controlPlaneFigures, proposalFigures].every(
    (f) => f.stateChecks.failed.length === 0 && f.dropped === 0 && f.signalsMissing === 0,
  );
  return { controlPlane: controlPlaneFigures, proposal: proposalFigures, seconds: (Date.now() - started) / 1000, ok };
}

/** The figures as a table. */
export function formatLongLived(f: LongLivedFigures): string {
  const rows: [string, WorkflowFigures][] = [
    ['control plane', f.controlPlane],
    ['proposal', f.proposal],
  ];
  const head = [
    'workflow',
    'signals',
    'recorded',
    'missing',
    'twice',
    'runs',
    'max events/run',
    'events',
    'checks',
    'dropped',
    'backpressure',
    's',
  ];
  const body = rows.map(([name, w]) => [
    name,
    String(w.signalsSent),
    String(w.signalsRecorded),
    String(w.signalsMissing),
    String(w.signalsDuplicated),
    String(w.runs),
    String(w.maxEventsPerRun),
    String(w.eventsTotal),
    `${w.stateChecks.passed}/${w.stateChecks.passed + w.stateChecks.failed.length}`,
    String(w.dropped),
    String(w.refusedByBackpressure),
    w.seconds.toFixed(1),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ');
  const failures = rows.flatMap(([name, w]) => w.stateChecks.failed.map((m) => `  ${name}: ${m}`));
  return [
    line(head),
    ...body.map(line),
    `total ${f.seconds.toFixed(1)} s — ${f.ok ? 'ok' : 'FAILED'}`,
    ...failures,
  ].join('\n');
}
