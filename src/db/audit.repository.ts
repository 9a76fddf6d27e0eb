import { type Kysely, sql, type Transaction } from 'kysely';
import { chainHash, GENESIS_HASH } from '../security/audit-chain';
import { AuditKind, type AuditKindName } from '../domain/audit/kinds';
import { redactToken } from '../domain/identity/redact';
import { notificationFor } from '../domain/notifications/rules';
import { storablePayload, storableText } from '../domain/shared/validation';
import type { AuditEventRow, Database } from './database';
import { groupCommitOf } from './group-commit';

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

/**
 * The log is AUDIT_CHAINS hash chains: an append extends whichever chain no other open transaction holds
 * (chain 0 when the system is quiet), so concurrent gates never queue on one lock, and each chain is as
 * tamper-evident as one log was. A transaction keeps the chain it took for all its appends (one lock,
 * so no lock order between chains to get wrong); its events stay in order within that chain.
 */
export const AUDIT_CHAINS = 8;
const AUDIT_CHAIN_LOCK = 0x5741_5244; // "WARD"; the chain is the lock's second key
/**
 * The chain a transaction holds, and its head once read: no other transaction appends to a chain this one
 * holds, so each append after the first chains to the hash the one before wrote. Sound while no append is
 * undone by a rollback to a savepoint: the one savepoint there is (reserveOnStripe) has none in between.
 */
interface HeldChain {
  chain: number;
  head?: string;
}
const chainHeld = new WeakMap<Transaction<Database>, HeldChain>();
let fallbackChain = 0;

async function takeChain(trx: Transaction<Database>): Promise<HeldChain> {
  const held = chainHeld.get(trx);
  if (held !== undefined) return held;
  // No ORDER BY: the scan stops at the first lock taken, so no other chain is locked in passing.
  const free = await sql<{ chain: number }>`
    select c as chain from generate_series(0, ${AUDIT_CHAINS - 1}::int) c
    where pg_try_advisory_xact_lock(${AUDIT_CHAIN_LOCK}::int, c) limit 1`.execute(trx);
  let chain = free.rows[0]?.chain;
  if (chain === undefined) {
    // Every chain busy: wait for one, spreading the waiters. Its own statement: under READ COMMITTED
    // the next one then sees every event committed while we waited.
    chain = fallbackChain = (fallbackChain + 1) % AUDIT_CHAINS;
    await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}::int, ${chain}::int)`.execute(trx);
  }
  const taken = { chain };
  chainHeld.set(trx, taken);
  return taken;
}

/** Appends one event to a hash chain; must run inside the caller's transaction. */
export async function appendAuditEvent(
  trx: Transaction<Database>,
  entry: AuditEntry,
): Promise<AuditEventRow | undefined> {
  const [row] = await appendToChain(trx, await takeChainForAppends(trx), [entry]);
  return row;
}

/** The chain this transaction appends to; first, at most every EPOCH_INTERVAL_MS per process, an epoch. */
async function takeChainForAppends(trx: Transaction<Database>): Promise<HeldChain> {
  const held = await takeChain(trx);
  if (Date.now() >= nextEpochAt) {
    nextEpochAt = Date.now() + EPOCH_INTERVAL_MS;
    await appendEpoch(trx, held);
  }
  return held;
}

/**
 * `entries` one after another on the chain `held`, in one insert. A retried writer's event is already
 * there (its idempotency key): nothing is appended for it, and a lone entry gives undefined. Skipped in a
 * group, it would leave a gap (the next event names a hash never stored): DuplicateInGroup, and the caller
 * undoes the insert.
 */
async function appendToChain(
  trx: Transaction<Database>,
  held: HeldChain,
  entries: readonly AuditEntry[],
): Promise<AuditEventRow[]> {
  const values = chainedValues(await readHead(trx, held), held.chain, entries);
  const inserted = await trx
    .insertInto('audit_event')
    .values(values)
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .execute();
  if (inserted.length !== values.length && values.length > 1) throw new DuplicateInGroup();
  // Only an event actually appended announces itself: a retried writer's duplicate enqueues nothing.
  if (inserted.length > 0) {
    held.head = inserted[inserted.length - 1]!.hash;
    await enqueueNotifications(trx, inserted);
  }
  return inserted;
}
class DuplicateInGroup extends Error {}

async function readHead(trx: Transaction<Database>, held: HeldChain): Promise<string> {
  held.head ??=
    (
      await trx
        .selectFrom('audit_event')
        .select('hash')
        .where('chain', '=', held.chain)
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst()
    )?.hash ?? GENESIS_HASH;
  return held.head;
}

/** The rows of `entries` chained one after another from `head`, as they are stored and hashed. */
function chainedValues(head: string, chain: number, entries: readonly AuditEntry[]) {
  let prevHash = head;
  return entries.map((entry) => {
    // Round-trip through JSON so the hashed details equal what jsonb stores. PostgreSQL refuses
    // U+0000 in text and jsonb: escaped (before hashing), so no payload can make an audit write fail for ever.
    // Approval tokens and their references are credentials: masked here, whoever wrote the event.
    const details = redactToken(withoutNul(JSON.parse(JSON.stringify(entry.details ?? {})))) as Record<string, unknown>;
    const actor = escapeNulText(entry.actor);
    const subject = escapeNulText(entry.subject);
    // Postgres keeps microseconds, JS milliseconds: hash what both can hold.
    const at = new Date(Math.floor((entry.at ?? new Date()).getTime()));
    const hash = chainHash(prevHash, { at, actor, kind: entry.kind, subject, details });
    const values = {
      at,
      actor,
      kind: entry.kind,
      subject,
      details: JSON.stringify(details),
      idempotency_key: entry.idempotencyKey ?? null,
      chain,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return values;
  });
}

/**
 * A chain can only be cut at its end unnoticed, and a whole chain removed would leave no gap: so, at most
 * every EPOCH_INTERVAL_MS per process, an append first records the heads of the other chains on its own
 * (when they moved). Verification then finds every head an epoch names, or names the epoch.
 */
const EPOCH_INTERVAL_MS = 10_000;
let nextEpochAt = 0;

interface ChainHead {
  chain: number;
  id: string;
  hash: string;
}

/** An epoch now, whatever the interval (an operator's `audit verify` after a quiet spell, a test). */
export async function recordAuditEpoch(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => appendEpoch(trx, await takeChain(trx)));
}

async function appendEpoch(trx: Transaction<Database>, held: HeldChain): Promise<void> {
  const own = held.chain;
  const heads = await sql<ChainHead>`
    select c as chain, e.id::text as id, e.hash from generate_series(0, ${AUDIT_CHAINS - 1}::int) c
    cross join lateral (select id, hash from audit_event where chain = c order by id desc limit 1) e
    where c <> ${own}::int order by c`.execute(trx);
  if (heads.rows.length === 0) return;
  const previous = await trx
    .selectFrom('audit_event')
    .select('details')
    .where('kind', '=', AuditKind.audit.epoch)
    // By time: the (kind, at) index answers it at once however many epochs there are.
    .orderBy('at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (JSON.stringify(previous?.details['heads'] ?? null) === JSON.stringify(heads.rows)) return;
  await appendToChain(trx, held, [
    { actor: 'warden', kind: AuditKind.audit.epoch, subject: 'audit', details: { heads: heads.rows } },
  ]);
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

/** Seed 004's notification queue: written with the events it announces, so neither exists without the other. */
async function enqueueNotifications(trx: Transaction<Database>, events: readonly AuditEventRow[]): Promise<void> {
  const queued = events.flatMap((event) => {
    const draft = notificationFor(event);
    return draft === null
      ? []
      : [
          {
            at: event.at,
            kind: draft.kind,
            subject: event.subject,
            summary: draft.summary,
            details: JSON.stringify(event.details),
            audit_event_id: String(event.id),
          },
        ];
  });
  if (queued.length > 0) await trx.insertInto('notification').values(queued).execute();
}

/** One event in a transaction of its own (shared with appends made at the same moment: see groupAppender). */
export async function recordAuditEvent(db: Kysely<Database>, entry: AuditEntry): Promise<AuditEventRow | undefined> {
  const [row] = await groupAppender(db).submit([entry]);
  return row;
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

/** Several events in one transaction, in order, one after another on one chain. */
export async function recordAuditEvents(db: Kysely<Database>, entries: AuditEntry[]): Promise<void> {
  if (entries.length > 0) await groupAppender(db).submit(entries);
}

/**
 * Appends made outside a transaction at the same moment go together (src/db/group-commit.ts): one chain,
 * one insert and one commit per group, where each append took its own (and most waited for a chain under
 * load: twenty gates at once, eight chains). A caller's events stay together and in order. A retry's event
 * already there makes the group go again one event at a time, each duplicate skipped as alone.
 */
const groupAppender = groupCommitOf<AuditEntry[], (AuditEventRow | undefined)[]>({
  // Half the chains, so other processes find chains free.
  atOnce: AUDIT_CHAINS / 2,
  limit: 200,
  async write(trx, requests, again) {
    const rows = await appendGroup(trx, requests.flat(), { oneByOne: again });
    let at = 0;
    return requests.map((entries) => rows.slice(at, (at += entries.length)));
  },
  writeAgainOn: (error) => error instanceof DuplicateInGroup,
});

/** A group's events on the chain this transaction takes, in one insert; or one by one (appendAuditEvent's way). */
async function appendGroup(
  trx: Transaction<Database>,
  entries: readonly AuditEntry[],
  { oneByOne = false } = {},
): Promise<(AuditEventRow | undefined)[]> {
  if (!oneByOne && entries.length > 1) return appendToChain(trx, await takeChainForAppends(trx), entries);
  const rows: (AuditEventRow | undefined)[] = [];
  for (const entry of entries) rows.push(await appendAuditEvent(trx, entry));
  return rows;
}

export type AuditVerification =
  | { ok: true; events: number; chains: number; epochs: number; lastHash: string }
  | { ok: false; events: number; brokenAt: { id: string; kind: string; at: string }; problem: string };

/**
 * Walks the log in id order, each event against the one before it on its chain, then every chain head an
 * epoch recorded; names the first event that does not hold. `events` counts what Warden recorded, `epochs`
 * the log's own records of its heads; `lastHash` is the newest event's.
 */
export async function verifyAuditChain(db: Kysely<Database>, pageSize = 1000): Promise<AuditVerification> {
  const heads = new Map<number, string>();
  let lastHash = GENESIS_HASH;
  let afterId: string | undefined;
  let events = 0;
  const epochs: { row: AuditEventRow; named: ChainHead[] }[] = [];
  const broken = (row: AuditEventRow, problem: string): AuditVerification => ({
    ok: false,
    events,
    brokenAt: { id: String(row.id), kind: row.kind, at: row.at.toISOString() },
    problem,
  });
  for (;;) {
    let query = db.selectFrom('audit_event').selectAll().orderBy('id', 'asc').limit(pageSize);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.execute();
    for (const row of rows) {
      const prevHash = heads.get(row.chain) ?? GENESIS_HASH;
      if (row.prev_hash !== prevHash)
        return broken(
          row,
          `prev_hash does not match the hash of the event before it on chain ${row.chain} (an event was removed or reordered)`,
        );
      if (row.hash !== chainHash(prevHash, row))
        return broken(row, 'content does not match its hash (the event was altered)');
      if (row.kind === AuditKind.audit.epoch) epochs.push({ row, named: epochHeads(row.details) });
      else events += 1;
      heads.set(row.chain, row.hash);
      lastHash = row.hash;
    }
    if (rows.length < pageSize) break;
    afterId = String(rows[rows.length - 1]!.id);
  }
  for (const { row, named } of epochs) {
    if (named.length === 0) continue;
    const found = await db
      .selectFrom('audit_event')
      .select(['id', 'chain', 'hash'])
      .where(
        'id',
        'in',
        named.map((h) => h.id),
      )
      .execute();
    for (const head of named) {
      const event = found.find((f) => String(f.id) === head.id);
      if (!event || event.chain !== head.chain || event.hash !== head.hash)
        return broken(
          row,
          `the epoch names event ${head.id} as the head of chain ${head.chain}, and the log no longer holds it (events were removed)`,
        );
    }
  }
  return { ok: true, events, chains: heads.size, epochs: epochs.length, lastHash };
}

/** What an epoch's details name; anything malformed names nothing (its own hash already holds). */
function epochHeads(details: Record<string, unknown>): ChainHead[] {
  const heads = details['heads'];
  if (!Array.isArray(heads)) return [];
  return heads.filter(
    (h): h is ChainHead =>
      typeof h === 'object' &&
      h !== null &&
      typeof (h as ChainHead).chain === 'number' &&
      typeof (h as ChainHead).id === 'string' &&
      typeof (h as ChainHead).hash === 'string',
  );
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
