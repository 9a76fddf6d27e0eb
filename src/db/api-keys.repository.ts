import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Identity, Role } from '../domain/identity/roles';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';

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
}

/** Creates a key for an identity; the key itself is returned once and never stored. */
export async function createApiKey(
  db: Kysely<Database>,
  input: { identity: string; roles: Role[]; actor: string },
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
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.apiKey.created,
      subject: `api_key:${id}`,
      details: { identity: input.identity, roles: input.roles },
    });
    return inserted;
  });
  return { key: `wk_${id}.${secret}`, view: toView(row) };
}

export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  actor: string,
  reason: string,
): Promise<ApiKeyView | undefined> {
  return db.transaction().execute(async (trx) => {
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
      details: { identity: row.identity, reason },
    });
    return toView(row);
  });
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
  // Best effort: a lost update of last_used_at must not fail the request.
  await db
    .updateTable('api_key')
    .set({ last_used_at: new Date() })
    .where('id', '=', id)
    .execute()
    .catch(() => undefined);
  return { ok: true, identity: { name: row.identity, roles: row.roles, keyId: id } };
}

function toView(row: {
  id: string;
  identity: string;
  roles: Role[];
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
  last_used_at: Date | null;
}): ApiKeyView {
  return {
    id: row.id,
    identity: row.identity,
    roles: row.roles,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}
