// Runs one boundary's payloads in chunks and judges them: each chunk between
// two snapshots of the state tables (and the target's queries), refusals read
// from the answer (HTTP, update, workflow result) or from the audit trail
// (signals), histories read from the server afterwards, and a valid engage
// timed after the batch. Nothing here trusts Warden's own counters.
import type { z } from 'zod';
import type { FuzzEnv } from './env';
import { type Fuzzed, samplePayloads } from './payloads';
import {
  type AuditRow,
  auditSince,
  changedTables,
  firstDifference,
  lastAuditId,
  namesField,
  snapshotTables,
} from './verdicts';

export type BoundaryKind = 'workflow' | 'signal' | 'update' | 'http' | 'cli';

/** What became of one payload, as the boundary answered it. */
export interface Attempt {
  rejected: boolean;
  /** The refusal's message, checked for the field it names (when `checkField`). */
  message?: string;
  checkField?: boolean;
  /** A 500 or an unexpected exception: always a finding. */
  serverError?: string;
  hang?: boolean;
}

export interface Boundary {
  name: string;
  kind: BoundaryKind;
  template: Record<string, unknown>;
  /** Field names the boundary's schema knows, any of which a refusal may name. */
  known: ReadonlySet<string>;
  /**
   * The boundary's own schema, when the harness knows it: a payload it accepts that is still refused
   * was refused for the target's state (already decided, not the requester…), which names no field.
   */
  schema?: z.ZodType;
  /** Payloads between two snapshots, and how many of them run at once. */
  chunk: number;
  concurrency: number;
  /** Sends one payload; a signal answers 'sent' and is judged from the audit trail. */
  send(payload: unknown, index: number): Promise<Attempt | 'sent'>;
  /** Readies the target (starts it again if an accepted payload closed it) before a chunk's first snapshot. */
  prepare?(): Promise<unknown>;
  /** Query results read with the tables (volatile counters left out). */
  query?(): Promise<unknown>;
  /** State tables a refused payload may still change (an engage engages whatever its form). */
  allowedChanges?: readonly string[];
  /** After the batch: workflow task failures and runs that are not running or closed as they should be. */
  inspect?(): Promise<InspectedRuns>;
  /** Overrides the generated payloads (e.g. no payload at all for a payload-free signal). */
  payloads?(count: number, seed: number): Fuzzed[];
}

export interface InspectedRuns {
  taskFailures: number;
  /** Tasks the server failed and rescheduled itself (see HistoryVerdict): reported, not a failure. */
  serverRetries: number;
  badRuns: string[];
}

export interface BoundaryResult {
  boundary: string;
  kind: BoundaryKind;
  payloads: number;
  rejected: number;
  accepted: number;
  taskFailures: number;
  serverRetries: number;
  badRuns: number;
  stateChanges: number;
  unnamed: number;
  serverErrors: number;
  hangs: number;
  engageMs: number | null;
  seconds: number;
  families: Record<string, number>;
  findings: string[];
}

/** A payload as the boundary receives it: JSON on the wire (a key whose value is undefined is not sent). */
function asSent(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return value;
  }
}

const REFUSAL_KIND = /(_rejected|_refused|\.refused)$/;

const short = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);
const describePayload = (value: unknown) => {
  try {
    return short(JSON.stringify(value) ?? String(value), 200);
  } catch {
    return '<unserialisable>';
  }
};

export async function pool<T, R>(
  items: T[],
  concurrency: number,
  task: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = Array.from({ length: items.length });
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!, i);
      }
    }),
  );
  return results;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The refusal text of an audit row of a refused message, or undefined when the row is no refusal. */
function refusalText(row: AuditRow): string | undefined {
  const details = (row.details ?? {}) as Record<string, unknown>;
  const outcome = details.outcome as { reason?: unknown } | undefined;
  if (REFUSAL_KIND.test(row.kind)) {
    const text = details.problem ?? details.detail ?? outcome?.reason ?? details.reason ?? details.message;
    return typeof text === 'string' ? text : JSON.stringify(details);
  }
  if (typeof details.malformed === 'string') return details.malformed;
  return undefined;
}

/** Waits until `expected` audit rows arrived after `from`, or none has for `quietMs`. */
async function settleSignals(env: FuzzEnv, from: number, expected: number, quietMs = 2_500): Promise<AuditRow[]> {
  let rows: AuditRow[] = [];
  let lastChange = Date.now();
  for (;;) {
    const next = await auditSince(env.db, from);
    if (next.length !== rows.length) lastChange = Date.now();
    rows = next;
    if (rows.length >= expected || Date.now() - lastChange > quietMs) return rows;
    await new Promise((r) => setTimeout(r, 40));
  }
}

interface State {
  tables: Map<string, string>;
  query: string;
}

async function readState(env: FuzzEnv, boundary: Boundary): Promise<State> {
  const [tables, query] = await Promise.all([snapshotTables(env.db), boundary.query?.() ?? Promise.resolve(null)]);
  return { tables, query: JSON.stringify(query) };
}

function stateDiff(boundary: Boundary, before: State, after: State): string[] {
  const allowed = new Set(boundary.allowedChanges ?? []);
  const tables = changedTables(before.tables, after.tables)
    .filter((t) => !allowed.has(t))
    .map((t) => {
      const [a, b] = [before.tables.get(t) ?? '', after.tables.get(t) ?? ''];
      return a.length === 32 && b.length === 32 ? t : `${t} ${firstDifference(a, b)}`;
    });
  return before.query === after.query
    ? tables
    : [...tables, `workflow query ${firstDifference(before.query, after.query)}`];
}

/**
 * The state once what accepted payloads set going has finished (a deal started through the API ends
 * after its answer): two equal reads half a second apart, or the last read after `ms`.
 */
async function stillState(env: FuzzEnv, boundary: Boundary, ms = 15_000): Promise<State> {
  let last = await readState(env, boundary);
  for (const deadline = performance.now() + ms; performance.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await readState(env, boundary);
    if (stateDiff(boundary, last, next).length === 0) return next;
    last = next;
  }
  return last;
}

/** Time from a valid engage signal to the `state` query showing it. */
export async function engageLatency(env: FuzzEnv, label: string): Promise<number> {
  const actor = `fuzz-probe-${label}`.slice(0, 200);
  const started = performance.now();
  await env.warden.engageKillSwitch({ source: 'operator', actor, reason: `engage after the ${label} batch` });
  const deadline = started + 10_000;
  while (performance.now() < deadline) {
    const view = await env.warden.controlPlaneState().catch(() => undefined);
    if (view?.killSwitchEngaged && view.killSwitchEngagedBy === actor) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  return Number.POSITIVE_INFINITY;
}

/** A boundary's tally before its first payload. */
export function emptyResult(boundary: string, kind: BoundaryKind): BoundaryResult {
  return {
    boundary,
    kind,
    payloads: 0,
    rejected: 0,
    accepted: 0,
    taskFailures: 0,
    serverRetries: 0,
    badRuns: 0,
    stateChanges: 0,
    unnamed: 0,
    serverErrors: 0,
    hangs: 0,
    engageMs: null,
    seconds: 0,
    families: {},
    findings: [],
  };
}

export async function runBoundary(
  env: FuzzEnv,
  boundary: Boundary,
  runs: number,
  seed: number,
  log: (line: string) => void = () => undefined,
): Promise<BoundaryResult> {
  const started = performance.now();
  const payloads = boundary.payloads?.(runs, seed) ?? samplePayloads(boundary.template, runs, seed);
  const result = emptyResult(boundary.name, boundary.kind);
  const finding = (text: string) => {
    if (result.findings.length < 12) result.findings.push(short(text, 600));
  };
  const judge = (fuzzed: Fuzzed, attempt: Attempt) => {
    if (attempt.serverError !== undefined) {
      result.serverErrors += 1;
      finding(`server error (${fuzzed.family}) ${describePayload(fuzzed.value)}: ${attempt.serverError}`);
    }
    if (attempt.hang) {
      result.hangs += 1;
      finding(`no answer (${fuzzed.family}) ${describePayload(fuzzed.value)}`);
    }
    if (attempt.rejected) {
      result.rejected += 1;
      const stateRefusal = boundary.schema?.safeParse(asSent(fuzzed.value)).success === true;
      if (
        attempt.checkField !== false &&
        !stateRefusal &&
        !namesField(attempt.message ?? '', boundary.known, fuzzed.value)
      ) {
        result.unnamed += 1;
        finding(
          `refusal names no field (${fuzzed.family}) ${describePayload(fuzzed.value)}: ${short(attempt.message ?? '<none>')}`,
        );
      }
    } else if (attempt.serverError === undefined && !attempt.hang) result.accepted += 1;
  };

  for (let offset = 0; offset < payloads.length; offset += boundary.chunk) {
    const chunk = payloads.slice(offset, offset + boundary.chunk);
    for (const p of chunk) result.families[p.family] = (result.families[p.family] ?? 0) + 1;
    await boundary.prepare?.();
    const before = await readState(env, boundary);
    const auditFrom = await lastAuditId(env.db);
    const attempts = await pool(chunk, boundary.concurrency, (p, i) =>
      boundary.send(p.value, offset + i).catch((error: unknown): Attempt => ({
        rejected: false,
        serverError: error instanceof Error ? error.message : String(error),
      })),
    );
    result.payloads += chunk.length;
    let acceptedInChunk = 0;
    const rejectedPayloads: Fuzzed[] = [];
    if (boundary.kind === 'signal') {
      const sent = attempts.filter((a) => a === 'sent').length;
      const rows = await settleSignals(env, auditFrom, sent);
      const refusals = rows.map(refusalText).filter((t): t is string => t !== undefined);
      for (const [i, attempt] of attempts.entries()) if (attempt !== 'sent') judge(chunk[i]!, attempt);
      // An audit row is matched to no single payload: any field of the template or of the chunk counts, and
      // as many rows as the chunk held schema-valid payloads may be refusals for the target's state.
      let excused = boundary.schema
        ? chunk.filter((p) => boundary.schema!.safeParse(asSent(p.value)).success).length
        : 0;
      for (const text of refusals.slice(0, sent)) {
        result.rejected += 1;
        if (
          !namesField(
            text,
            boundary.known,
            chunk.map((p) => p.value),
          )
        ) {
          if (excused > 0) {
            excused -= 1;
            continue;
          }
          result.unnamed += 1;
          finding(`audited refusal names no field: ${short(text)}`);
        }
      }
      acceptedInChunk = Math.max(0, sent - refusals.length);
      result.accepted += acceptedInChunk;
    } else {
      for (const [i, attempt] of attempts.entries()) {
        const fuzzed = chunk[i]!;
        if (attempt === 'sent') continue;
        judge(fuzzed, attempt);
        if (attempt.rejected) rejectedPayloads.push(fuzzed);
        else acceptedInChunk += 1;
      }
    }
    const after = await readState(env, boundary);
    const diff = stateDiff(boundary, before, after);
    if (diff.length > 0 && acceptedInChunk === 0) {
      result.stateChanges += 1;
      finding(`state changed after a chunk of ${chunk.length} refused payloads: ${diff.join(', ')}`);
    } else if (diff.length > 0 && rejectedPayloads.length > 0) {
      // Some were accepted: the refused ones again on their own, to see whether they change anything.
      // Once what the accepted ones set going is done (a target they closed is closed), a fresh target.
      await stillState(env, boundary);
      await boundary.prepare?.();
      const again = await stillState(env, boundary);
      const retried = await pool(rejectedPayloads, boundary.concurrency, (p) =>
        boundary.send(p.value, -1).catch((): Attempt => ({ rejected: true, checkField: false })),
      );
      const afterRetry = await readState(env, boundary);
      const retryDiff = stateDiff(boundary, again, afterRetry);
      if (retryDiff.length > 0 && retried.every((a) => a !== 'sent' && a.rejected)) {
        result.stateChanges += 1;
        finding(
          `state changed after ${rejectedPayloads.length} refused payloads (re-sent alone): ${retryDiff.join(', ')}`,
        );
      }
    }
    if (offset === 0 || (offset / boundary.chunk) % 10 === 9)
      log(`  ${boundary.name}: ${result.payloads}/${payloads.length} (${result.rejected} refused)`);
  }
  if (boundary.inspect) {
    const inspected = await boundary.inspect();
    result.taskFailures = inspected.taskFailures;
    result.serverRetries = inspected.serverRetries;
    result.badRuns = inspected.badRuns.length;
    for (const run of inspected.badRuns.slice(0, 5)) finding(`run not running or closed as it should: ${run}`);
    if (inspected.taskFailures > 0) finding(`${inspected.taskFailures} workflow task failures in the target histories`);
    if (inspected.serverRetries > 0)
      finding(`${inspected.serverRetries} tasks the server failed and rescheduled itself (not failures)`);
  }
  result.engageMs = await engageLatency(env, boundary.name);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** A boundary passes when nothing failed, changed, went unnamed, errored or hung, the engage took ≤ 1 s, and enough was tried. */
export function verdictFailures(result: BoundaryResult, minPayloads: number): string[] {
  const failures: string[] = [];
  if (result.payloads < minPayloads) failures.push(`only ${result.payloads} payloads (need ${minPayloads})`);
  if (result.taskFailures > 0) failures.push(`${result.taskFailures} workflow task failures`);
  if (result.badRuns > 0) failures.push(`${result.badRuns} runs in a wrong state`);
  if (result.stateChanges > 0) failures.push(`${result.stateChanges} state changes from refused input`);
  if (result.unnamed > 0) failures.push(`${result.unnamed} refusals naming no field`);
  if (result.serverErrors > 0) failures.push(`${result.serverErrors} server errors`);
  if (result.hangs > 0) failures.push(`${result.hangs} hangs`);
  if (result.engageMs === null || !(result.engageMs <= 1_000)) failures.push(`engage took ${result.engageMs} ms`);
  return failures;
}
