import { type Kysely, sql, type Transaction } from 'kysely';
import { chainHash, GENESIS_HASH } from '../security/audit-chain';
import type { AuditKindName } from '../domain/audit/kinds';
import { redactToken } from '../domain/identity/redact';
import { notificationFor } from '../domain/notifications/rules';
import { storablePayload, storableText } from '../domain/shared/validation';
import type { AuditEventRow, Database } from './database';

export interface AuditEntry {
  actor: string;
  /** From the catalogue (src/domain/audit/kinds.ts), never a bare string. */
  kind: AuditKindName;
  subject: string;
  details?: Record<string, unknown>;
  /** A retried writer passes the same key; the event is then appended once. */
  idempotencyKey?: string;
  at?: Date;
}

// Appends are serialised so that each event chains onto the true latest one.
const AUDIT_CHAIN_LOCK = 0x5741_5244; // "WARD"

/** Appends one event to the hash chain; must run inside the caller's transaction. */
export async function appendAuditEvent(
  trx: Transaction<Database>,
  entry: AuditEntry,
): Promise<AuditEventRow | undefined> {
  // Its own statement: under READ COMMITTED the next one then sees every event committed while we waited.
  await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(trx);
  const last = await trx.selectFrom('audit_event').select('hash').orderBy('id', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? GENESIS_HASH;
  // Round-trip through JSON so the hashed details equal what jsonb stores. PostgreSQL refuses
  // U+0000 in text and jsonb: escaped (before hashing), so no payload can make an audit write fail for ever.
  // Approval tokens and their references are credentials: masked here, whoever wrote the event.
  const details = redactToken(withoutNul(JSON.parse(JSON.stringify(entry.details ?? {})))) as Record<string, unknown>;
  const actor = escapeNulText(entry.actor);
  const subject = escapeNulText(entry.subject);
  // Postgres keeps microseconds, JS milliseconds: hash what both can hold.
  const at = new Date(Math.floor((entry.at ?? new Date()).getTime()));
  const hash = chainHash(prevHash, { at, actor, kind: entry.kind, subject, details });
  const row = await trx
    .insertInto('audit_event')
    .values({
      at,
      actor,
      kind: entry.kind,
      subject,
      details: JSON.stringify(details),
      idempotency_key: entry.idempotencyKey ?? null,
      prev_hash: prevHash,
      hash,
    })
    // A retried writer's event is already there: nothing is appended.
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  // Only an event actually appended announces itself: a retried writer's duplicate enqueues nothing.
  if (row) await enqueueNotification(trx, row);
  return row;
}

/** U+0000 written as the six characters `\u0000`, in every string of a JSON value (keys included). */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return escapeNulText(value);
  if (Array.isArray(value)) return value.map(withoutNul);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeNulText(k), withoutNul(v)]));
  return value;
}
const escapeNulText = (text: string): string => text.replaceAll('\u0000', '\\u0000');

/** Seed 004's notification queue: written with the event it announces, so neither exists without the other. */
async function enqueueNotification(trx: Transaction<Database>, event: AuditEventRow): Promise<void> {
  const draft = notificationFor(event);
  if (draft === null) return;
  await trx
    .insertInto('notification')
    .values({
      at: event.at,
      kind: draft.kind,
      subject: event.subject,
      summary: draft.summary,
      details: JSON.stringify(event.details),
      audit_event_id: String(event.id),
    })
    .execute();
}

export async function recordAuditEvent(db: Kysely<Database>, entry: AuditEntry): Promise<AuditEventRow | undefined> {
  return db.transaction().execute((trx) => appendAuditEvent(trx, entry));
}

/**
 * A message a workflow refused: its payload is untrusted, so it is recorded
 * bounded, without control characters or a token; the actor is whatever the
 * payload's `actorField` says, if it is a string.
 */
export async function recordRefusedMessage(db: Kysely<Database>, input: RefusedMessage): Promise<void> {
  await recordAuditEvent(db, refusedMessageEntry(input));
}

/** Refused messages of one subject, in one transaction and in order (a workflow's backlog of refusals). */
export async function recordRefusedMessages(
  db: Kysely<Database>,
  common: Pick<RefusedMessage, 'kind' | 'subject' | 'actorField'>,
  refusals: Pick<RefusedMessage, 'message' | 'payload' | 'problem' | 'key'>[],
): Promise<void> {
  await recordAuditEvents(
    db,
    refusals.map((r) => refusedMessageEntry({ ...common, ...r })),
  );
}

interface RefusedMessage {
  kind: AuditKindName;
  subject: string;
  actorField: string;
  message: string;
  payload: unknown;
  problem: string;
  key?: string | undefined;
}

function refusedMessageEntry(input: RefusedMessage): AuditEntry {
  const claimed =
    typeof input.payload === 'object' && input.payload !== null
      ? (input.payload as Record<string, unknown>)[input.actorField]
      : undefined;
  return {
    actor: typeof claimed === 'string' ? storableText(claimed, 200) : 'unknown',
    kind: input.kind,
    subject: input.subject,
    details: {
      message: input.message,
      payload: storablePayload(redactToken(input.payload ?? null)),
      problem: storableText(input.problem, 2000),
    },
    ...(input.key === undefined ? {} : { idempotencyKey: input.key }),
  };
}

/** Several events in one transaction, in order. */
export async function recordAuditEvents(db: Kysely<Database>, entries: AuditEntry[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const entry of entries) await appendAuditEvent(trx, entry);
  });
}

export type AuditVerification =
  | { ok: true; events: number; lastHash: string }
  | { ok: false; events: number; brokenAt: { id: string; kind: string; at: string }; problem: string };

/** Walks the chain in id order and names the first event that does not hold. */
export async function verifyAuditChain(db: Kysely<Database>, pageSize = 1000): Promise<AuditVerification> {
  let prevHash = GENESIS_HASH;
  let afterId: string | undefined;
  let events = 0;
  for (;;) {
    let query = db.selectFrom('audit_event').selectAll().orderBy('id', 'asc').limit(pageSize);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.execute();
    for (const row of rows) {
      const broken = (problem: string): AuditVerification => ({
        ok: false,
        events,
        brokenAt: { id: String(row.id), kind: row.kind, at: row.at.toISOString() },
        problem,
      });
      if (row.prev_hash !== prevHash)
        return broken('prev_hash does not match the hash of the event before it (an event was removed or reordered)');
      const expected = chainHash(prevHash, row);
      if (row.hash !== expected) return broken('content does not match its hash (the event was altered)');
      prevHash = row.hash;
      events += 1;
    }
    if (rows.length < pageSize) return { ok: true, events, lastHash: prevHash };
    afterId = String(rows[rows.length - 1]!.id);
  }
}

export async function listAuditEvents(
  db: Kysely<Database>,
  filter: { kind?: string; subject?: string; limit?: number; before?: string } = {},
): Promise<AuditEventRow[]> {
  let query = db
    .selectFrom('audit_event')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.before !== undefined) query = query.where('id', '<', filter.before);
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
  if (filter.subject !== undefined) query = query.where('subject', '=', filter.subject);
  return query.execute();
}
