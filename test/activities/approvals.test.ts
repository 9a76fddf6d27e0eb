import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalActivities } from '../../activities/approvals';
import { issueApprovalToken } from '../../src/security/approval-tokens';
import type { ApprovalSettings } from '../../src/security/approvals';
import { createTestDatabase, type TestDatabase } from '../helpers';

const KEY = 'approvals-test-signing-key-0123456789abcdef';
const SIGNED: ApprovalSettings = { environment: 'test', approvals: { signed: true, signingKey: KEY } };
const UNSIGNED: ApprovalSettings = { environment: 'test', approvals: { signed: false, signingKey: undefined } };

describe('approval activities on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });
  beforeEach(async () => {
    await t.db.deleteFrom('approval_token_use').execute();
  });

  const verify = (
    settings: ApprovalSettings,
    input: Parameters<ReturnType<typeof createApprovalActivities>['verifyApproval']>[0],
  ) => createApprovalActivities({ db: t.db, settings }).verifyApproval(input);
  const token = (
    subject: string,
    roles: ('risk_officer' | 'manager' | 'operator')[],
    over: { environment?: string; key?: string; now?: Date; ttlMs?: number } = {},
  ) =>
    issueApprovalToken({
      subject,
      roles,
      environment: over.environment ?? 'test',
      ttlMs: over.ttlMs ?? 60_000,
      key: over.key ?? KEY,
      ...(over.now ? { now: over.now } : {}),
    });
  const spent = () =>
    t.db.selectFrom('approval_token_use').select(['token_id', 'subject', 'used_for']).orderBy('used_at').execute();

  it('unsigned: the named role counts and nothing is spent', async () => {
    expect(await verify(UNSIGNED, { actor: 'alice', role: 'risk_officer', usedFor: 'promotion:1' })).toEqual({
      ok: true,
    });
    expect(await spent()).toEqual([]);
  });

  it('signed: an approval without a token is refused, without writes', async () => {
    expect(await verify(SIGNED, { actor: 'alice', role: 'risk_officer', usedFor: 'promotion:1' })).toEqual({
      ok: false,
      problem:
        'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens',
    });
    expect(await spent()).toEqual([]);
  });

  it('a valid token approves once: the retry of the same token is refused and the first use is kept', async () => {
    const { token: signed, claims } = token('alice', ['risk_officer']);
    expect(
      await verify(SIGNED, { actor: 'alice', role: 'risk_officer', token: signed, usedFor: 'promotion:1' }),
    ).toEqual({ ok: true });
    expect(
      await verify(SIGNED, { actor: 'alice', role: 'risk_officer', token: signed, usedFor: 'promotion:2' }),
    ).toEqual({
      ok: false,
      problem: 'token: already used (each approval token approves once)',
    });
    expect(await spent()).toEqual([{ token_id: claims.jti, subject: 'alice', used_for: 'promotion:1' }]);
  });

  it('racing uses of one token: exactly one approves', async () => {
    const { token: signed } = token('alice', ['risk_officer']);
    const verdicts = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        verify(SIGNED, { actor: 'alice', role: 'risk_officer', token: signed, usedFor: `race:${i}` }),
      ),
    );
    expect(verdicts.filter((v) => v.ok)).toHaveLength(1);
    expect(await spent()).toHaveLength(1);
  });

  it.each([
    ['another subject', () => token('bob', ['risk_officer']).token, "actor: alice is not the token's subject (bob)"],
    [
      'a role the token does not grant',
      () => token('alice', ['operator']).token,
      'role: the token does not grant risk_officer',
    ],
    [
      'another environment',
      () => token('alice', ['risk_officer'], { environment: 'prod' }).token,
      'token: issued for environment prod, not test',
    ],
    [
      'another key',
      () => token('alice', ['risk_officer'], { key: 'some-other-key-of-enough-length-000000' }).token,
      'token: bad signature',
    ],
    ['garbage', () => 'not-a-token', 'token: not a Warden approval token'],
  ])('refuses a token from %s, spending nothing', async (_, make, problem) => {
    expect(
      await verify(SIGNED, { actor: 'alice', role: 'risk_officer', token: make(), usedFor: 'promotion:1' }),
    ).toEqual({ ok: false, problem });
    expect(await spent()).toEqual([]);
  });

  it('refuses an expired token, spending nothing', async () => {
    const { token: expired } = token('alice', ['risk_officer'], { now: new Date(Date.now() - 120_000), ttlMs: 60_000 });
    const verdict = await verify(SIGNED, {
      actor: 'alice',
      role: 'risk_officer',
      token: expired,
      usedFor: 'promotion:1',
    });
    expect(verdict).toMatchObject({ ok: false, problem: expect.stringMatching(/^token: expired at /) });
    expect(await spent()).toEqual([]);
  });

  it('refuses a token where no signing key is configured', async () => {
    const { token: signed } = token('alice', ['risk_officer']);
    expect(
      await verify(UNSIGNED, { actor: 'alice', role: 'risk_officer', token: signed, usedFor: 'promotion:1' }),
    ).toEqual({
      ok: false,
      problem: 'token: this environment has no approval signing key (WARDEN_APPROVAL_SIGNING_KEY)',
    });
    expect(await spent()).toEqual([]);
  });
});
