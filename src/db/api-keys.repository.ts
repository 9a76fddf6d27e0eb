import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Identity, Role } from '../domain/identity/roles';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { ApiKeyTable, Database } from './database';
import { type Db, inTransaction, type WriteContext } from './transaction';

const KEY_PATTERN = /^wk_([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface ApiKeyView {
  id: string;
  identity: string;
  roles: Role[];
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** False while the key waits for `pendingChangeRequest` to be approved and applied. */
  active: boolean;
  pendingChangeRequest: string | null;
}

/**
 * Creates a key for an identity; the key itself is returned once and never stored. With
 * `pendingChangeRequest` the key is created inactive: it authenticates only once that change request
 * (an `api_key` change) activates it, so a key granting more than its creator holds needs others' approval.
 */
export async function createApiKey(
  db: Kysely<Database>,
  input: { identity: string; roles: Role[]; actor: string; pendingChangeRequest?: string },
): Promise<{ key: string; view: ApiKeyView }> {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const row = await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('api_key')
      .values({
        id,
        identity: input.identity,
        roles: JSON.stringify(input.roles),
        secret_hash: hashSecret(secret),
        created_by: input.actor,
        active: input.pendingChangeRequest === undefined,
        pending_change_request: input.pendingChangeRequest ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.apiKey.created,
      subject: `api_key:${id}`,
      details: {
        identity: input.identity,
        roles: input.roles,
        ...(input.pendingChangeRequest === undefined ? {} : { pendingChangeRequest: input.pendingChangeRequest }),
      },
    });
    return inserted;
  });
  return { key: `wk_${id}.${secret}`, view: toView(row) };
}

export async function revokeApiKey(
  db: Db,
  id: string,
  actor: string,
  reason: string,
  context: WriteContext = {},
): Promise<ApiKeyView | undefined> {
  return inTransaction(db, async (trx) => {
    const row = await trx
      .updateTable('api_key')
      .set({ revoked_at: new Date(), revoked_by: actor })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.apiKey.revoked,
      subject: `api_key:${id}`,
      details: { identity: row.identity, reason, ...context },
    });
    return toView(row);
  });
}

/** Activates a key created inactive (its change request was approved). Undefined when none is waiting. */
export async function activateApiKey(
  db: Db,
  id: string,
  actor: string,
  context: WriteContext = {},
): Promise<ApiKeyView | undefined> {
  return inTransaction(db, async (trx) => {
    const row = await trx
      .updateTable('api_key')
      .set({ active: true, pending_change_request: null })
      .where('id', '=', id)
      .where('active', '=', false)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.apiKey.activated,
      subject: `api_key:${id}`,
      details: { identity: row.identity, roles: row.roles, ...context },
    });
    return toView(row);
  });
}

/** A key as a change request sees it (active: authenticates now), its row locked in a transaction. */
export async function readApiKeyState(
  db: Db,
  id: string,
): Promise<{ identity: string; roles: Role[]; active: boolean } | undefined> {
  let query = db.selectFrom('api_key').select(['identity', 'roles', 'active', 'revoked_at']).where('id', '=', id);
  if (db.isTransaction) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && { identity: row.identity, roles: row.roles, active: row.active && row.revoked_at === null };
}

export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyView[]> {
  const rows = await db.selectFrom('api_key').selectAll().orderBy('created_at', 'asc').execute();
  return rows.map(toView);
}

export type Authentication = { ok: true; identity: Identity } | { ok: false; reason: string };

/** Checks a presented key: known, not revoked, secret matching its hash. */
export async function authenticateApiKey(db: Kysely<Database>, presented: string): Promise<Authentication> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return { ok: false, reason: 'not a Warden API key (expected wk_<id>.<secret>)' };
  const [, id, secret] = match as unknown as [string, string, string];
  const row = await db.selectFrom('api_key').selectAll().where('id', '=', id).executeTakeFirst();
  const expected = Buffer.from(row?.secret_hash ?? hashSecret('no such key'), 'hex');
  const given = Buffer.from(hashSecret(secret), 'hex');
  if (!row || !timingSafeEqual(expected, given)) return { ok: false, reason: 'unknown API key' };
  if (row.revoked_at !== null) return { ok: false, reason: `API key ${id} was revoked` };
  if (!row.active)
    return {
      ok: false,
      reason: `API key ${id} is inactive: pending approval of change request ${row.pending_change_request ?? '(none named)'}`,
    };
  // Best effort: a lost update of last_used_at must not fail the request.
  await db
    .updateTable('api_key')
    .set({ last_used_at: new Date() })
    .where('id', '=', id)
    .execute()
    .catch(() => undefined);
  return { ok: true, identity: { name: row.identity, roles: row.roles, keyId: id } };
}

function toView(row: Selectable<ApiKeyTable>): ApiKeyView {
  return {
    id: row.id,
    identity: row.identity,
    roles: row.roles,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    active: row.active,
    pendingChangeRequest: row.pending_change_request,
  };
}
