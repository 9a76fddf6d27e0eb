import type { Kysely } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { Role } from '../domain/identity/roles';
import type { ApprovalPrivateKey } from '../security/approval-keys';
import { newTokenReference, signApprovalToken } from '../security/approval-tokens';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';

export interface IssuedApprovalToken {
  /** `wtr_…`: what the caller puts in a signal or update; the JWS stays in the database. */
  reference: string;
  tokenId: string;
  subject: string;
  roles: Role[];
  audience: string;
  expiresAt: string;
}

/**
 * Signs a token for one identity and one audience, stores the JWS under a new
 * reference and audits the issue (without either), in one transaction.
 */
export async function issueApprovalToken(
  db: Kysely<Database>,
  input: {
    privateKey: ApprovalPrivateKey;
    environment: string;
    ttlMs: number;
    subject: string;
    roles: Role[];
    audience: string;
    /** The API key the caller authenticated with, for the audit. */
    keyId?: string | undefined;
  },
): Promise<IssuedApprovalToken> {
  const { token, claims } = await signApprovalToken(input);
  const reference = newTokenReference();
  const expiresAt = new Date(claims.exp * 1000);
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('approval_token')
      .values({
        reference,
        jws: token,
        token_id: claims.jti,
        subject: claims.sub,
        audience: claims.aud,
        expires_at: expiresAt,
      })
      .execute();
    await appendAuditEvent(trx, {
      actor: claims.sub,
      kind: AuditKind.approvalToken.issued,
      subject: `approval_token:${claims.jti}`,
      details: {
        audience: claims.aud,
        roles: claims.roles,
        expiresAt: expiresAt.toISOString(),
        ...(input.keyId === undefined ? {} : { keyId: input.keyId }),
      },
    });
  });
  return {
    reference,
    tokenId: claims.jti,
    subject: claims.sub,
    roles: claims.roles,
    audience: claims.aud,
    expiresAt: expiresAt.toISOString(),
  };
}

/** The JWS stored under a reference, if any; its signature is the verifier's to check (a row proves nothing). */
export async function readApprovalToken(db: Kysely<Database>, reference: string): Promise<string | undefined> {
  const row = await db.selectFrom('approval_token').select('jws').where('reference', '=', reference).executeTakeFirst();
  return row?.jws;
}

export interface ApprovalTokenUse {
  usedFor: string;
  requestKey: string | null;
  usedAt: Date;
}

export async function findApprovalTokenUse(
  db: Kysely<Database>,
  tokenId: string,
): Promise<ApprovalTokenUse | undefined> {
  const row = await db
    .selectFrom('approval_token_use')
    .select(['used_for', 'request_key', 'used_at'])
    .where('token_id', '=', tokenId)
    .executeTakeFirst();
  return row && { usedFor: row.used_for, requestKey: row.request_key, usedAt: row.used_at };
}

export type TokenSpend = { ok: true } | { ok: false; problem: string };

export const TOKEN_ALREADY_USED = 'token: already used (each approval token approves once)';

/**
 * Marks a token used by one request for one audience. Each token approves
 * once: the same request spending it again (a retried activity) is answered
 * ok, any other request is refused.
 */
export async function spendApprovalToken(
  db: Kysely<Database>,
  token: { tokenId: string; subject: string },
  use: { audience: string; requestKey: string },
): Promise<TokenSpend> {
  const spent = await db
    .insertInto('approval_token_use')
    .values({ token_id: token.tokenId, subject: token.subject, used_for: use.audience, request_key: use.requestKey })
    .onConflict((oc) => oc.column('token_id').doNothing())
    .returning('token_id')
    .executeTakeFirst();
  if (spent !== undefined) return { ok: true };
  const first = await findApprovalTokenUse(db, token.tokenId);
  if (first?.usedFor === use.audience && first.requestKey === use.requestKey) return { ok: true };
  return { ok: false, problem: TOKEN_ALREADY_USED };
}
