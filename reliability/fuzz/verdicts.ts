// What the harness checks with its own eyes: a snapshot of Warden's state
// tables (hashes per table, read straight from PostgreSQL), whether a refusal
// names a field, and what a workflow's history says about its tasks.
import type { Client } from '@temporalio/client';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/db/database';
import { AuditKind } from '../../src/domain/audit/kinds';
import { storableText } from '../../src/domain/shared/validation';

/**
 * Logs a refused message may add to (and is expected to): the audit trail
 * and the notifications raised from it. Everything else is state.
 */
const LOG_TABLES = new Set([
  'audit_event',
  'notification',
  'notification_delivery',
  // Requests counted towards the API's rate limit: every request counts, refused or not, by design.
  'rate_limit_window',
]);
/**
 * Bookkeeping, not state: a key's last use (every authenticated request), the control plane's last
 * decided change id (recorded for a refused change too, so a retry of it decides nothing again), and a
 * watchdog's last check (the canary's and the tripwire's schedules run on their own clock meanwhile).
 */
const VOLATILE_COLUMNS = ['last_used_at', 'last_change_id', 'last_checked_at'];

export type Snapshot = Map<string, string>;

let tablesCache: string[] | undefined;

async function stateTables(db: Kysely<Database>): Promise<string[]> {
  if (tablesCache) return tablesCache;
  const rows = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
  tablesCache = rows.rows.map((r) => r.name).filter((name) => !LOG_TABLES.has(name));
  return tablesCache;
}

/** One hash per state table, in one round trip. */
export async function snapshotTables(db: Kysely<Database>): Promise<Snapshot> {
  const tables = await stateTables(db);
  const drop = VOLATILE_COLUMNS.map((c) => ` - '${c}'`).join('');
  const parts = tables.map(
    (t) =>
      // Small tables (one-row state such as control_plane_state) keep their text, so a change can be shown.
      `select '${t}' as name, case when count(*) <= 3 then left(string_agg((to_jsonb(x)${drop})::text, ',' order by (to_jsonb(x)${drop})::text), 6000) else md5(coalesce(string_agg((to_jsonb(x)${drop})::text, ',' order by (to_jsonb(x)${drop})::text), '')) end as hash from "${t}" x`,
  );
  const rows = await sql<{ name: string; hash: string | null }>`${sql.raw(parts.join(' union all '))}`.execute(db);
  return new Map(rows.rows.map((r) => [r.name, r.hash ?? '']));
}

/** The tables whose content differs between two snapshots. */
export function changedTables(before: Snapshot, after: Snapshot): string[] {
  return [...after.keys()].filter((t) => before.get(t) !== after.get(t));
}

/** Where two texts first differ, with a little context: what a finding shows of a changed row. */
export function firstDifference(before: string, after: string): string {
  let i = 0;
  while (i < before.length && before[i] === after[i]) i++;
  const from = Math.max(0, i - 60);
  return `…${before.slice(from, i + 80)}… → …${after.slice(from, i + 80)}…`;
}

/** The highest audit event id: refusals are read from the rows after it. */
export async function lastAuditId(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('audit_event')
    .select(sql<string>`coalesce(max(id), 0)`.as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

export interface AuditRow {
  id: number;
  kind: string;
  subject: string;
  details: unknown;
}

export async function auditSince(db: Kysely<Database>, after: number): Promise<AuditRow[]> {
  const rows = await db
    .selectFrom('audit_event')
    .select(['id', 'kind', 'subject', 'details'])
    .where('id', '>', after as never)
    // The log's own records of its chain heads answer no message.
    .where('kind', '<>', AuditKind.audit.epoch)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: Number(r.id), kind: r.kind, subject: r.subject, details: r.details }));
}

/** Every key anywhere in a value (bounded): a refusal may name any of them. */
export function keysOf(value: unknown, into = new Set<string>(), depth = 0): Set<string> {
  if (depth > 12 || value === null || typeof value !== 'object') return into;
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 50)) keysOf(item, into, depth + 1);
    return into;
  }
  for (const [key, item] of Object.entries(value).slice(0, 100)) {
    into.add(key);
    // Refusals store and print a key made safe (control characters escaped): that spelling names it too.
    into.add(storableText(key, 100));
    keysOf(item, into, depth + 1);
  }
  return into;
}

/**
 * Percent-encoding that never throws: a lone surrogate (which encodeURIComponent refuses) goes out as
 * its raw WTF-8 bytes, so the server sees invalid UTF-8 in the URL, as a hostile client could send it.
 * `'` is encoded too, as fetch's URL parser does in a query: the server then echoes exactly this.
 */
export function percentEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out +=
        `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    } else out += text[i] === "'" ? '%27' : encodeURIComponent(text[i]!);
  }
  return out;
}

/** Names a whole payload or part rather than a field inside it. */
const WHOLE = new Set(['payload', 'body', 'query', 'params', 'input', 'args']);

/**
 * True when `message` has the `field: problem` form and the field is one the
 * boundary knows, one the payload carried, or the payload as a whole
 * (`payload:`, `body:`). E.g. `invalid dealExecution input: amount: must be…`.
 */
export function namesField(message: string, known: ReadonlySet<string>, payload: unknown): boolean {
  const sent = keysOf(payload);
  // A document sent as `text` is refused at its place in it: `<file>:<line>: …`, by the name the caller gave it.
  const file =
    typeof payload === 'object' && payload !== null && 'file' in payload && typeof payload.file === 'string'
      ? payload.file
      : undefined;
  // A parser's position after the name (`body:1: Missing closing quote`) still names it.
  const candidates = message.matchAll(/(?:^|[\s;,(])([^\s:;,()]{1,300}?)(?::\d+)*\s*:(?=\s)/gu);
  for (const [, token] of candidates) {
    const segments = token!
      .replace(/\[(\d+)\]/g, '.$1')
      .split('.')
      .filter((s) => s !== '');
    if (segments.length === 0) continue;
    if (token === file) return true;
    const [head, ...rest] = segments;
    if (WHOLE.has(head!) && rest.length === 0) return true;
    const field = WHOLE.has(head!) ? rest[0]! : head!;
    if (known.has(field) || sent.has(field)) return true;
  }
  // `payload` on its own at the end (e.g. `must be an object: payload`) is not the form; unknown-key text may
  // hold the key escaped, or still percent-encoded when it was not UTF-8 (a lone surrogate in a query
  // string's key), so a message naming an escaped or encoded unknown key also counts.
  return [...sent].some(
    (k) =>
      k.length > 0 &&
      (message.includes(`${k}: unknown field`) || message.includes(`${percentEncode(k)}: unknown field`)),
  );
}

export interface HistoryVerdict {
  /** Workflow task failures the worker reported: what the fuzz must never cause. */
  taskFailures: number;
  /**
   * Tasks the server itself failed and scheduled again, the workflow's code not at fault: a signal that
   * arrived while the task completed the run (UNHANDLED_COMMAND: the continue-as-new is retried with the
   * signal in), or a flood of megabyte signals that overran the server's buffer while a task was in
   * flight (FORCE_CLOSE_COMMAND: the buffer is written and a new task scheduled). Reported apart.
   */
  serverRetries: number;
  /** The first workflow task failure's cause and message, when there is one. */
  taskFailure?: string;
  status: string;
  /** The failure's message when the run failed. */
  failure?: string;
}

/** WorkflowTaskFailedCause UNHANDLED_COMMAND and FORCE_CLOSE_COMMAND (the names live in @temporalio/proto, no direct dependency). */
const SERVER_RETRY_CAUSES = new Set([1, 17]);

/** What the server's history says of one run: its workflow task failures and how it stands or closed. */
export async function inspectWorkflow(client: Client, workflowId: string, runId?: string): Promise<HistoryVerdict> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
  const events = history.events ?? [];
  const failed = events.flatMap((e) =>
    e.workflowTaskFailedEventAttributes ? [e.workflowTaskFailedEventAttributes] : [],
  );
  const failures = failed.filter((f) => !SERVER_RETRY_CAUSES.has(Number(f.cause ?? 0)));
  const first = failures[0];
  const taskFailures = failures.length;
  const closed = events.find((e) => e.workflowExecutionFailedEventAttributes != null);
  const message = closed?.workflowExecutionFailedEventAttributes?.failure?.message ?? undefined;
  return {
    taskFailures,
    serverRetries: failed.length - failures.length,
    ...(first
      ? {
          taskFailure:
            // The cause as its number (WorkflowTaskFailedCause), as above.
            `cause ${String(first.cause ?? 0)}: ${first.failure?.message ?? ''}`.slice(0, 400),
        }
      : {}),
    status: description.status.name,
    ...(message ? { failure: message } : {}),
  };
}
