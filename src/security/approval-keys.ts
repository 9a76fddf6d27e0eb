import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config/index';

/**
 * The keys of signed approvals: Ed25519 JWKs. The API signs with the private
 * key; workers hold only the public keys (several during a rotation, chosen by
 * `kid`), so nothing a worker or a database writer holds can mint a token.
 */
const base64url = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected 32 bytes, base64url');

const PublicJwkSchema = z.object({
  kty: z.literal('OKP', { message: 'expected kty OKP (an Ed25519 key)' }),
  crv: z.literal('Ed25519', { message: 'expected crv Ed25519' }),
  x: base64url,
  kid: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a kid of 1-128 letters, digits or . _ : -'),
});
const PrivateJwkSchema = PublicJwkSchema.extend({ d: base64url });

export type ApprovalPublicKey = z.infer<typeof PublicJwkSchema>;
export type ApprovalPrivateKey = z.infer<typeof PrivateJwkSchema>;

/** A setting holds the JSON itself or the path of a file holding it. */
function settingText(value: string): string {
  const text = value.trim();
  if (text.startsWith('{')) return text;
  try {
    return readFileSync(text, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${text}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      cause: error,
    });
  }
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('expected JSON (or the path of a file holding it)');
  }
}

function issuesOf(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/** The private key from its setting (a JWK with `kid`, or a file holding one); a problem throws naming the field. */
export function parseApprovalPrivateKey(value: string): ApprovalPrivateKey {
  const parsed = PrivateJwkSchema.safeParse(json(settingText(value)));
  if (!parsed.success) throw new Error(issuesOf(parsed.error));
  const key = parsed.data;
  const derived = createPublicKey(createPrivateKey({ key, format: 'jwk' })).export({ format: 'jwk' });
  if (derived.x !== key.x) throw new Error('x: is not the public half of d');
  return key;
}

/** The public keys from their setting (a JWKS `{"keys": […]}`, or a file holding one). Private halves are refused. */
export function parseApprovalPublicKeys(value: string): ApprovalPublicKey[] {
  const raw = json(settingText(value));
  const keys = (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new Error('expected a JWKS: {"keys": [ … ]} with one key or more');
  const parsed = keys.map((k: unknown, i) => {
    if (typeof k === 'object' && k !== null && 'd' in k)
      throw new Error(`keys.${i}.d: a private key; workers hold public keys only`);
    const key = PublicJwkSchema.safeParse(k);
    if (!key.success) throw new Error(`keys.${i}.${issuesOf(key.error)}`);
    createPublicKey({ key: key.data, format: 'jwk' });
    return key.data;
  });
  const kids = parsed.map((k) => k.kid);
  const twice = kids.find((kid, i) => kids.indexOf(kid) !== i);
  if (twice !== undefined) throw new Error(`keys: kid ${twice} appears twice`);
  return parsed;
}

export function publicHalf(key: ApprovalPrivateKey): ApprovalPublicKey {
  return { kty: key.kty, crv: key.crv, x: key.x, kid: key.kid };
}

/** A new key pair; the kid is the key's RFC 7638 thumbprint, so two keys never share one. */
export function generateApprovalKeyPair(): { privateKey: ApprovalPrivateKey; publicKey: ApprovalPublicKey } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const x = jwk.x!;
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
  const key: ApprovalPrivateKey = { kty: 'OKP', crv: 'Ed25519', x, d: jwk.d!, kid };
  return { privateKey: key, publicKey: publicHalf(key) };
}

export const LOCAL_PRIVATE_KEY_FILE = 'approval-private-key.json';
export const LOCAL_PUBLIC_KEYS_FILE = 'approval-public-keys.json';

/**
 * `npm start`'s key pair under the data folder, made on the first run: the
 * private key readable by its owner only (0600), the public keys beside it.
 */
export function ensureLocalApprovalKeys(dataDir: string): {
  privateKeyFile: string;
  publicKeysFile: string;
  created: boolean;
} {
  const privateKeyFile = path.join(dataDir, LOCAL_PRIVATE_KEY_FILE);
  const publicKeysFile = path.join(dataDir, LOCAL_PUBLIC_KEYS_FILE);
  let created = false;
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(privateKeyFile)) {
    const pair = generateApprovalKeyPair();
    writeFileSync(privateKeyFile, `${JSON.stringify(pair.privateKey, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    writeFileSync(publicKeysFile, `${JSON.stringify({ keys: [pair.publicKey] }, null, 2)}\n`, { mode: 0o644 });
    created = true;
  }
  // A copied data folder may have lost the mode: the private key is its owner's alone.
  chmodSync(privateKeyFile, 0o600);
  if (!existsSync(publicKeysFile)) {
    const key = publicHalf(parseApprovalPrivateKey(privateKeyFile));
    writeFileSync(publicKeysFile, `${JSON.stringify({ keys: [key] }, null, 2)}\n`, { mode: 0o644 });
  }
  return { privateKeyFile, publicKeysFile, created };
}

/**
 * The configuration an embedded run (`npm start`, and `warden` beside it) signs and verifies with:
 * as given when it names any approval key, else with the key pair under the data folder (made now if
 * missing: `created` names the new private key file).
 */
export function withLocalApprovalKeys(config: Config): { config: Config; created: string | undefined } {
  if (config.approvals.privateKey !== undefined || config.approvals.publicKeys.length > 0)
    return { config, created: undefined };
  const files = ensureLocalApprovalKeys(config.dataDir);
  const approvals = {
    ...config.approvals,
    privateKey: parseApprovalPrivateKey(files.privateKeyFile),
    publicKeys: parseApprovalPublicKeys(files.publicKeysFile),
  };
  return { config: { ...config, approvals }, created: files.created ? files.privateKeyFile : undefined };
}
