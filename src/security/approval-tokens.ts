import { randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, errors, type JWTVerifyGetKey, importJWK, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { MAX_APPROVAL_TOKEN_TTL_MS } from '../domain/identity/audience';
import { RoleSchema } from '../domain/identity/roles';
import type { ApprovalPrivateKey, ApprovalPublicKey } from './approval-keys';

/**
 * Signed approvals: a short-lived EdDSA JWS binding an identity and its roles
 * to one action on one workflow (`aud`). The API signs with the private key;
 * workers verify with the public keys, so an approval that carries one can be
 * checked whoever delivered it (API, `warden`, raw `temporal workflow signal`,
 * the Web UI), and forged by nobody who holds only what a worker holds.
 */
const TYPE = 'warden-approval+jwt';
const ALGORITHM = 'EdDSA';

export const ApprovalClaimsSchema = z.object({
  /** Token id: each token approves once. */
  jti: z.string().min(1),
  sub: z.string().min(1),
  roles: z.array(RoleSchema).min(1),
  env: z.string().min(1),
  /** `<workflowId>:<action>`: the one target the token approves. */
  aud: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type ApprovalClaims = z.infer<typeof ApprovalClaimsSchema>;

const REFERENCE = /^wtr_[A-Za-z0-9_-]{43}$/;

/** A token reference: what the API hands out and payloads carry, so Temporal history never holds the JWS. */
export function newTokenReference(): string {
  return `wtr_${randomBytes(32).toString('base64url')}`;
}

export function isTokenReference(token: string): boolean {
  return REFERENCE.test(token);
}

export async function signApprovalToken(input: {
  subject: string;
  roles: ApprovalClaims['roles'];
  environment: string;
  audience: string;
  ttlMs: number;
  privateKey: ApprovalPrivateKey;
  now?: Date;
}): Promise<{ token: string; claims: ApprovalClaims }> {
  if (!(input.ttlMs >= 1000 && input.ttlMs <= MAX_APPROVAL_TOKEN_TTL_MS))
    throw new RangeError(
      `ttl: an approval token lives 1s to ${MAX_APPROVAL_TOKEN_TTL_MS / 60_000}m, not ${input.ttlMs}ms`,
    );
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const claims: ApprovalClaims = {
    jti: randomUUID(),
    sub: input.subject,
    roles: input.roles,
    env: input.environment,
    aud: input.audience,
    iat,
    exp: iat + Math.floor(input.ttlMs / 1000),
  };
  const { kid, ...jwk } = input.privateKey;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, kid, typ: TYPE })
    .sign(await importJWK(jwk, ALGORITHM));
  return { token, claims };
}

/** The token id a JWS claims, unverified: only to find its recorded use before it is verified. */
export function claimedTokenId(jws: string): string | undefined {
  try {
    const { jti } = decodeJwt(jws);
    return typeof jti === 'string' ? jti : undefined;
  } catch {
    return undefined;
  }
}

export type TokenCheck = { ok: true; claims: ApprovalClaims } | { ok: false; reason: string };

// One imported key set per configured list: jose caches the imported keys inside it.
const keySets = new WeakMap<readonly ApprovalPublicKey[], JWTVerifyGetKey>();
function keySetOf(keys: readonly ApprovalPublicKey[]): JWTVerifyGetKey {
  let set = keySets.get(keys);
  if (set === undefined) {
    set = createLocalJWKSet({ keys: keys.map((k) => ({ ...k, alg: ALGORITHM })) });
    keySets.set(keys, set);
  }
  return set;
}

/**
 * Signature (by the key its `kid` names), shape, environment, audience,
 * expiry and the lifetime cap. Single use is the caller's (it needs the database).
 */
export async function verifyApprovalToken(
  token: string,
  expected: { publicKeys: readonly ApprovalPublicKey[]; environment: string; audience: string; now?: Date },
): Promise<TokenCheck> {
  const now = expected.now ?? new Date();
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, keySetOf(expected.publicKeys), {
      algorithms: [ALGORITHM],
      typ: TYPE,
      currentDate: now,
    }));
  } catch (error) {
    return { ok: false, reason: verifyProblem(error) };
  }
  const parsed = ApprovalClaimsSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, reason: 'token: malformed claims' };
  const claims = parsed.data;
  if (claims.env !== expected.environment)
    return { ok: false, reason: `token: issued for environment ${claims.env}, not ${expected.environment}` };
  if (claims.aud !== expected.audience)
    return { ok: false, reason: `token: issued for ${claims.aud}, not ${expected.audience}` };
  if ((claims.exp - claims.iat) * 1000 > MAX_APPROVAL_TOKEN_TTL_MS)
    return { ok: false, reason: `token: lives longer than the ${MAX_APPROVAL_TOKEN_TTL_MS / 60_000}m maximum` };
  return { ok: true, claims };
}

function verifyProblem(error: unknown): string {
  if (error instanceof errors.JWTExpired) {
    const exp = (error.payload as { exp?: unknown }).exp;
    return `token: expired at ${typeof exp === 'number' ? new Date(exp * 1000).toISOString() : 'an unknown time'}`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) return 'token: signed by a key this environment does not know (kid)';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token: bad signature';
  if (error instanceof errors.JWTClaimValidationFailed) return `token: ${error.message}`;
  return 'token: not a Warden approval token';
}
