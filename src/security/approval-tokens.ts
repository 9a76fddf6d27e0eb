import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { RoleSchema } from '../domain/identity/roles';

/**
 * Signed approvals: a short-lived token binding an identity to its roles,
 * HMAC-SHA256 signed with the deployment's key. Approvals that carry one can
 * be checked by the worker, whoever delivered them (API, `warden`, raw
 * `temporal workflow signal`, the Web UI).
 */
const PREFIX = 'wat1';

export const ApprovalClaimsSchema = z.strictObject({
  /** Token id: each token approves once. */
  jti: z.string().min(1),
  sub: z.string().min(1),
  roles: z.array(RoleSchema).min(1),
  env: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type ApprovalClaims = z.infer<typeof ApprovalClaimsSchema>;

function sign(body: string, key: string): Buffer {
  return createHmac('sha256', key).update(`${PREFIX}.${body}`).digest();
}

export function issueApprovalToken(input: {
  subject: string;
  roles: ApprovalClaims['roles'];
  environment: string;
  ttlMs: number;
  key: string;
  now?: Date;
}): { token: string; claims: ApprovalClaims } {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const claims: ApprovalClaims = {
    jti: randomUUID(),
    sub: input.subject,
    roles: input.roles,
    env: input.environment,
    iat,
    exp: iat + Math.max(1, Math.floor(input.ttlMs / 1000)),
  };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return { token: `${PREFIX}.${body}.${sign(body, input.key).toString('base64url')}`, claims };
}

export type TokenCheck = { ok: true; claims: ApprovalClaims } | { ok: false; reason: string };

/** Signature, shape, environment and expiry; single use is the caller's (it needs the database). */
export function verifyApprovalToken(token: string, key: string, environment: string, now = new Date()): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return { ok: false, reason: 'token: not a Warden approval token' };
  const [, body, signature] = parts as [string, string, string];
  const expected = sign(body, key);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'token: bad signature' };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'token: unreadable claims' };
  }
  const parsed = ApprovalClaimsSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'token: malformed claims' };
  const claims = parsed.data;
  if (claims.env !== environment)
    return { ok: false, reason: `token: issued for environment ${claims.env}, not ${environment}` };
  if (claims.exp * 1000 <= now.getTime())
    return { ok: false, reason: `token: expired at ${new Date(claims.exp * 1000).toISOString()}` };
  return { ok: true, claims };
}
