import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index';
import {
  approvalAudience,
  ApprovalAudienceSchema,
  MAX_APPROVAL_TOKEN_TTL_MS,
  releaseVoteAudience,
} from '../../../src/domain/identity/audience';
import { redactToken } from '../../../src/domain/identity/redact';
import { RELEASE_APPROVER_ROLES } from '../../../src/domain/identity/roles';
import {
  ensureLocalApprovalKeys,
  generateApprovalKeyPair,
  parseApprovalPrivateKey,
  parseApprovalPublicKeys,
  publicHalf,
  withLocalApprovalKeys,
} from '../../../src/security/approval-keys';
import { newTokenReference, signApprovalToken, verifyApprovalToken } from '../../../src/security/approval-tokens';
import { checkApprovalClaim } from '../../../src/security/approvals';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../../workflows/names';
import { testApprovalKeys } from '../../support/approval-keys';

const AUDIENCE = 'policy-change-cr-1a2b3c4d5e6f:approve';
const now = new Date('2026-12-02T10:00:00Z');

describe('approval tokens (EdDSA JWS)', () => {
  const keys = testApprovalKeys();
  const verify = (token: string, over: Partial<Parameters<typeof verifyApprovalToken>[1]> = {}) =>
    verifyApprovalToken(token, { publicKeys: keys.publicKeys, environment: 'test', audience: AUDIENCE, now, ...over });

  it('signs claims for one audience that verify with the public key alone', async () => {
    const { token, claims } = await signApprovalToken({
      subject: 'alice',
      roles: ['risk_officer'],
      environment: 'test',
      audience: AUDIENCE,
      ttlMs: 60_000,
      privateKey: keys.privateKey,
      now,
    });
    expect(token.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'EdDSA',
      kid: keys.privateKey.kid,
      typ: 'warden-approval+jwt',
    });
    expect(claims).toMatchObject({ sub: 'alice', roles: ['risk_officer'], env: 'test', aud: AUDIENCE });
    expect(claims.exp - claims.iat).toBe(60);
    // The verifier holds public keys only: the JWK has no private half.
    expect(keys.publicKeys[0]).not.toHaveProperty('d');
    expect(await verify(token)).toEqual({ ok: true, claims });
  });

  it('selects the key by kid, so a rotation verifies old and new tokens alike', async () => {
    const next = generateApprovalKeyPair();
    const rotated = [...keys.publicKeys, next.publicKey];
    const old = await keys.sign({ subject: 'alice', roles: ['owner'], audience: AUDIENCE, now });
    const fresh = (
      await signApprovalToken({
        subject: 'alice',
        roles: ['owner'],
        environment: 'test',
        audience: AUDIENCE,
        ttlMs: 60_000,
        privateKey: next.privateKey,
        now,
      })
    ).token;
    expect(await verify(old, { publicKeys: rotated })).toMatchObject({ ok: true });
    expect(await verify(fresh, { publicKeys: rotated })).toMatchObject({ ok: true });
    // The old key retired: its tokens no longer count.
    expect(await verify(old, { publicKeys: [next.publicKey] })).toEqual({
      ok: false,
      reason: 'token: signed by a key this environment does not know (kid)',
    });
  });

  it('refuses a token for another target, environment, or past its expiry', async () => {
    const token = await keys.sign({ subject: 'alice', roles: ['owner'], audience: AUDIENCE, now });
    expect(await verify(token, { audience: 'policy-change-cr-ffffffffffff:approve' })).toEqual({
      ok: false,
      reason: `token: issued for ${AUDIENCE}, not policy-change-cr-ffffffffffff:approve`,
    });
    expect(await verify(token, { environment: 'production' })).toEqual({
      ok: false,
      reason: 'token: issued for environment test, not production',
    });
    expect(await verify(token, { now: new Date(now.getTime() + 5 * 60_000) })).toEqual({
      ok: false,
      reason: `token: expired at ${new Date(now.getTime() + 5 * 60_000).toISOString()}`,
    });
  });

  it('refuses a forged signature, another signer, and garbage', async () => {
    const token = await keys.sign({ subject: 'alice', roles: ['owner'], audience: AUDIENCE, now });
    const [header, , signature] = token.split('.');
    const claims = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()), sub: 'mallory' }),
    ).toString('base64url');
    expect(await verify(`${header}.${claims}.${signature}`)).toEqual({ ok: false, reason: 'token: bad signature' });
    // A key with the same kid that is not the deployment's: the signature does not hold.
    const impostor = { ...generateApprovalKeyPair().privateKey, kid: keys.privateKey.kid };
    const forged = await signApprovalToken({
      subject: 'mallory',
      roles: ['owner'],
      environment: 'test',
      audience: AUDIENCE,
      ttlMs: 60_000,
      privateKey: impostor,
      now,
    });
    expect(await verify(forged.token)).toEqual({ ok: false, reason: 'token: bad signature' });
    expect(await verify('not-a-token')).toEqual({ ok: false, reason: 'token: not a Warden approval token' });
  });

  it(`refuses at issue a lifetime over the ${MAX_APPROVAL_TOKEN_TTL_MS / 60_000}m maximum, and in config`, async () => {
    await expect(
      signApprovalToken({
        subject: 'alice',
        roles: ['owner'],
        environment: 'test',
        audience: AUDIENCE,
        ttlMs: MAX_APPROVAL_TOKEN_TTL_MS + 1000,
        privateKey: keys.privateKey,
      }),
    ).rejects.toThrow(/^ttl: an approval token lives 1s to 15m/);
    expect(() => loadConfig({ WARDEN_APPROVAL_TOKEN_TTL: '1h' })).toThrow(
      /^invalid WARDEN_APPROVAL_TOKEN_TTL: expected 1s to 15m/,
    );
  });
});

describe('checkApprovalClaim', () => {
  const keys = testApprovalKeys();
  const signed = keys.settings('test');
  const unsigned = keys.settings('test', false);
  const none = async () => undefined;
  const target = { audience: releaseVoteAudience('releaseKillSwitch'), resolve: none, now };
  const vote = (token?: string, role = 'risk_officer') => ({ actor: 'mona', role, ...(token ? { token } : {}) });
  const tokenFor = (audience: string, subject = 'mona') =>
    keys.sign({ subject, roles: ['risk_officer'], audience, now });

  it('resolves a reference to the JWS stored for it, and checks it against the target', async () => {
    const reference = newTokenReference();
    const jws = await tokenFor(target.audience);
    const resolve = async (r: string) => (r === reference ? jws : undefined);
    expect(await checkApprovalClaim(vote(reference), RELEASE_APPROVER_ROLES, signed, { ...target, resolve })).toEqual({
      ok: true,
      actor: 'mona',
      role: 'risk_officer',
      token: { tokenId: expect.any(String), subject: 'mona' },
    });
    expect(await checkApprovalClaim(vote(newTokenReference()), RELEASE_APPROVER_ROLES, signed, target)).toEqual({
      ok: false,
      problem: 'token: no approval token has this reference',
    });
  });

  it('counts a token only for its own target, subject and role', async () => {
    expect(
      await checkApprovalClaim(
        vote(await tokenFor(releaseVoteAudience('declineKillSwitchRelease'))),
        RELEASE_APPROVER_ROLES,
        signed,
        target,
      ),
    ).toEqual({
      ok: false,
      problem:
        'token: issued for warden-control-plane:declineKillSwitchRelease, not warden-control-plane:releaseKillSwitch',
    });
    expect(
      await checkApprovalClaim(vote(await tokenFor(target.audience, 'rita')), RELEASE_APPROVER_ROLES, signed, target),
    ).toEqual({ ok: false, problem: "actor: mona is not the token's subject (rita)" });
    expect(
      await checkApprovalClaim(
        vote(await tokenFor(target.audience), 'manager'),
        RELEASE_APPROVER_ROLES,
        signed,
        target,
      ),
    ).toEqual({ ok: false, problem: 'role: the token does not grant manager' });
  });

  it('signed: no token, no approval; unsigned: the named approver role counts', async () => {
    expect(await checkApprovalClaim(vote(), RELEASE_APPROVER_ROLES, signed, target)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^token: signed approvals are on/),
    });
    expect(await checkApprovalClaim(vote(), RELEASE_APPROVER_ROLES, unsigned, target)).toEqual({
      ok: true,
      actor: 'mona',
      role: 'risk_officer',
    });
    expect(
      await checkApprovalClaim(vote(undefined, 'operator'), RELEASE_APPROVER_ROLES, unsigned, target),
    ).toMatchObject({ ok: false, problem: expect.stringMatching(/^role: operator may not approve this/) });
  });
});

describe('audiences', () => {
  it('name one action on one workflow; the control plane is the workflow names.ts says', () => {
    expect(releaseVoteAudience('releaseKillSwitch')).toBe(`${CONTROL_PLANE_WORKFLOW_ID}:releaseKillSwitch`);
    expect(approvalAudience('deal-a:b:c', 'approve')).toBe('deal-a:b:c:approve');
    expect(ApprovalAudienceSchema.safeParse('deal-a:b:c:approve').success).toBe(true);
    expect(ApprovalAudienceSchema.safeParse('go-live-playbook:sign_off').success).toBe(true);
    expect(ApprovalAudienceSchema.safeParse('policy-change-cr-1:delete').error?.issues[0]?.message).toMatch(
      /^expected an action among approve, reject/,
    );
    expect(ApprovalAudienceSchema.safeParse('approve').error?.issues[0]?.message).toMatch(
      /^expected <workflowId>:<action>/,
    );
  });
});

describe('redaction', () => {
  it('masks every token field and any reference or JWS inside text, at any depth', async () => {
    const jws = await testApprovalKeys().sign({ subject: 'a', roles: ['owner'], audience: AUDIENCE });
    const reference = newTokenReference();
    const at = new Date();
    const redacted = redactToken({
      token: reference,
      at,
      change: { token: jws, reason: `see ${reference}` },
      malformed: `{"token":"${jws}"}`,
      list: [{ token: 'wat1.abc.def' }],
    });
    expect(redacted).toEqual({
      token: '(redacted)',
      at,
      change: { token: '(redacted)', reason: 'see (redacted)' },
      malformed: '{"token":"(redacted)"}',
      list: [{ token: '(redacted)' }],
    });
  });
});

describe('approval keys', () => {
  it('parse from JSON or a file, refuse private halves among public keys, and name the field at fault', () => {
    const { privateKey, publicKey } = generateApprovalKeyPair();
    expect(parseApprovalPrivateKey(JSON.stringify(privateKey))).toEqual(privateKey);
    expect(parseApprovalPublicKeys(JSON.stringify({ keys: [publicKey] }))).toEqual([publicKey]);
    expect(() => parseApprovalPublicKeys(JSON.stringify({ keys: [privateKey] }))).toThrow(
      'keys.0.d: a private key; workers hold public keys only',
    );
    expect(() => parseApprovalPrivateKey(JSON.stringify({ ...privateKey, kid: undefined }))).toThrow(/^kid: /);
    expect(() => loadConfig({ WARDEN_APPROVAL_PRIVATE_KEY: '/nonexistent/key.json' })).toThrow(
      /^invalid WARDEN_APPROVAL_PRIVATE_KEY: cannot read \/nonexistent\/key.json: ENOENT/,
    );
  });

  it('config: production signs, names the missing variable, and refuses the old HMAC key', () => {
    const keys = testApprovalKeys();
    expect(() => loadConfig({ WARDEN_ENV: 'production' })).toThrow(/^invalid WARDEN_APPROVAL_PUBLIC_KEYS: signed/);
    expect(() => loadConfig({ WARDEN_ENV: 'production', WARDEN_SIGNED_APPROVALS: 'false', ...keys.env })).toThrow(
      /^invalid WARDEN_SIGNED_APPROVALS: signed approvals are always on with WARDEN_ENV=production/,
    );
    expect(() => loadConfig({ WARDEN_APPROVAL_SIGNING_KEY: 'k'.repeat(32) })).toThrow(
      /^invalid WARDEN_APPROVAL_SIGNING_KEY: HMAC approval tokens are gone/,
    );
    const worker = loadConfig({
      WARDEN_ENV: 'production',
      WARDEN_APPROVAL_PUBLIC_KEYS: keys.env.WARDEN_APPROVAL_PUBLIC_KEYS,
    });
    expect(worker.approvals).toEqual({
      signed: true,
      privateKey: undefined,
      publicKeys: keys.publicKeys,
      tokenTtl: '5m',
    });
    expect(() =>
      loadConfig({
        ...keys.env,
        WARDEN_APPROVAL_PUBLIC_KEYS: JSON.stringify({ keys: [generateApprovalKeyPair().publicKey] }),
      }),
    ).toThrow(/^invalid WARDEN_APPROVAL_PUBLIC_KEYS: holds no key .*, the public half of WARDEN_APPROVAL_PRIVATE_KEY/);
  });

  it("npm start's key pair: made once under the data folder, the private key 0600", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-keys-'));
    const first = ensureLocalApprovalKeys(dir);
    expect(first.created).toBe(true);
    expect(statSync(first.privateKeyFile).mode & 0o777).toBe(0o600);
    const again = ensureLocalApprovalKeys(dir);
    expect(again.created).toBe(false);
    const config = loadConfig({
      WARDEN_APPROVAL_PRIVATE_KEY: again.privateKeyFile,
      WARDEN_APPROVAL_PUBLIC_KEYS: again.publicKeysFile,
    });
    expect(config.approvals.privateKey?.kid).toBe(JSON.parse(readFileSync(first.privateKeyFile, 'utf8')).kid);
  });

  it("an embedded run without keys signs and verifies with the data folder's pair; given keys are kept", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-keys-'));
    const local = withLocalApprovalKeys(loadConfig({ WARDEN_DATA_DIR: dir }));
    expect(local.created).toBe(path.join(dir, 'approval-private-key.json'));
    expect(local.config.approvals.publicKeys).toEqual([publicHalf(local.config.approvals.privateKey!)]);
    expect(withLocalApprovalKeys(loadConfig({ WARDEN_DATA_DIR: dir })).created).toBeUndefined();
    const keys = testApprovalKeys();
    const given = loadConfig({ WARDEN_DATA_DIR: dir, ...keys.env });
    expect(withLocalApprovalKeys(given).config).toBe(given);
  });
});
