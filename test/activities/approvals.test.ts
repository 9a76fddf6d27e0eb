import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApprovalActivities } from '../../activities/approvals';
import { listAuditEvents } from '../../src/db/audit.repository';
import type { ApprovalVerdict } from '../../src/domain/identity/activities';
import { newTokenReference } from '../../src/security/approval-tokens';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

const keys = testApprovalKeys();
const SIGNED = keys.settings('test');
const UNSIGNED = keys.settings('test', false);
const TARGET = 'strategy-promotion-s1-L2:approve';

type Input = Parameters<ReturnType<typeof createApprovalActivities>['verifyApproval']>[0];

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
  afterEach(() => {
    vi.useRealTimers();
  });

  /** One activity of one workflow run: its retries share the context, another request has its own. */
  const request = (activityId = '1', runId = 'run-1') =>
    new MockActivityEnvironment({
      activityId,
      workflowExecution: { workflowId: 'strategy-promotion-s1-L2', runId },
    });
  const verify = (settings: typeof SIGNED, input: Input, env = request()) =>
    env.run(createApprovalActivities({ db: t.db, settings }).verifyApproval, input) as Promise<ApprovalVerdict>;
  const vote = (token?: string, usedFor = TARGET): Input => ({
    actor: 'alice',
    role: 'risk_officer',
    usedFor,
    ...(token ? { token } : {}),
  });
  const reference = (over: { subject?: string; audience?: string; now?: Date; ttlMs?: number } = {}) =>
    keys.issue(t.db, {
      subject: over.subject ?? 'alice',
      roles: ['risk_officer'],
      audience: over.audience ?? TARGET,
      ...(over.now ? { now: over.now } : {}),
      ...(over.ttlMs ? { ttlMs: over.ttlMs } : {}),
    });
  const spent = () =>
    t.db.selectFrom('approval_token_use').select(['subject', 'used_for', 'request_key']).orderBy('used_at').execute();

  it('unsigned: the named role counts and nothing is spent', async () => {
    expect(await verify(UNSIGNED, vote())).toEqual({ ok: true });
    expect(await spent()).toEqual([]);
  });

  it('signed: an approval without a token is refused, without writes', async () => {
    expect(await verify(SIGNED, vote())).toEqual({
      ok: false,
      problem:
        'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens',
    });
    expect(await spent()).toEqual([]);
  });

  it('resolves a reference to its stored JWS, verifies it and spends it for its audience by this request', async () => {
    expect(await verify(SIGNED, vote(await reference()))).toEqual({ ok: true });
    expect(await spent()).toEqual([
      { subject: 'alice', used_for: TARGET, request_key: 'strategy-promotion-s1-L2/run-1/1' },
    ]);
    expect(await verify(SIGNED, vote(newTokenReference()))).toEqual({
      ok: false,
      problem: 'token: no approval token has this reference',
    });
  });

  it('a raw JWS still counts when presented', async () => {
    const jws = await keys.sign({ subject: 'alice', roles: ['risk_officer'], audience: TARGET });
    expect(await verify(SIGNED, vote(jws))).toEqual({ ok: true });
  });

  it('a retried activity spends again idempotently, even after the token expired since', async () => {
    const token = await reference({ ttlMs: 60_000 });
    const attempt = request('7');
    expect(await verify(SIGNED, vote(token), attempt)).toEqual({ ok: true });
    // The first attempt committed, its answer was lost; the retry comes after the token's expiry.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    expect(await verify(SIGNED, vote(token), attempt)).toEqual({ ok: true });
    expect(await spent()).toHaveLength(1);
  });

  it('a replayed token is refused: a second approval with the same token, however delivered', async () => {
    const token = await reference();
    expect(await verify(SIGNED, vote(token), request('1'))).toEqual({ ok: true });
    const replay = { ok: false, problem: 'token: already used (each approval token approves once)' };
    expect(await verify(SIGNED, vote(token), request('2'))).toEqual(replay);
    expect(await verify(SIGNED, vote(token), request('1', 'run-2'))).toEqual(replay);
    expect(await spent()).toHaveLength(1);
  });

  it('a token stolen from one target is refused on another, spending nothing', async () => {
    const token = await reference({ audience: 'strategy-promotion-s1-L2:reject' });
    expect(await verify(SIGNED, vote(token))).toEqual({
      ok: false,
      problem: `token: issued for strategy-promotion-s1-L2:reject, not ${TARGET}`,
    });
    expect(await verify(SIGNED, vote(token, 'expansion-L4-2026-12-02:approve'))).toMatchObject({ ok: false });
    expect(await spent()).toEqual([]);
  });

  it('racing uses of one token by different requests: exactly one approves', async () => {
    const token = await reference();
    const verdicts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => verify(SIGNED, vote(token), request(String(i)))),
    );
    expect(verdicts.filter((v) => v.ok)).toHaveLength(1);
    expect(await spent()).toHaveLength(1);
  });

  it.each([
    ['another subject', () => reference({ subject: 'bob' }), "actor: alice is not the token's subject (bob)"],
    [
      'another environment',
      () => keys.issue(t.db, { subject: 'alice', roles: ['risk_officer'], audience: TARGET, environment: 'prod' }),
      'token: issued for environment prod, not test',
    ],
    [
      'another signer',
      () =>
        testApprovalKeys().sign({ subject: 'alice', roles: ['risk_officer'], audience: TARGET, environment: 'test' }),
      'token: signed by a key this environment does not know (kid)',
    ],
    ['garbage', async () => 'not-a-token', 'token: not a Warden approval token'],
  ])('refuses a token from %s, spending nothing', async (_, make, problem) => {
    expect(await verify(SIGNED, vote(await make()))).toEqual({ ok: false, problem });
    expect(await spent()).toEqual([]);
  });

  it('refuses an expired token, spending nothing', async () => {
    const token = await reference({ now: new Date(Date.now() - 120_000), ttlMs: 60_000 });
    expect(await verify(SIGNED, vote(token))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^token: expired at /),
    });
    expect(await spent()).toEqual([]);
  });

  it('refuses a token where no public keys are configured', async () => {
    const token = await reference();
    expect(await verify({ environment: 'test', approvals: { signed: false, publicKeys: [] } }, vote(token))).toEqual({
      ok: false,
      problem: 'token: this environment has no approval public keys (WARDEN_APPROVAL_PUBLIC_KEYS)',
    });
  });

  it('a database writer cannot forge one: a JWS planted under a reference still needs the signature', async () => {
    const planted = newTokenReference();
    const forged = await testApprovalKeys().sign({ subject: 'alice', roles: ['risk_officer'], audience: TARGET });
    await t.db
      .insertInto('approval_token')
      .values({
        reference: planted,
        jws: forged,
        token_id: 'planted',
        subject: 'alice',
        audience: TARGET,
        expires_at: new Date(Date.now() + 60_000),
      })
      .execute();
    expect(await verify(SIGNED, vote(planted))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^token: /),
    });
  });

  it('issuing audits the audience and roles, never the token or its reference', async () => {
    const token = await reference();
    const [issued] = await listAuditEvents(t.db, { kind: 'approval_token.issued', limit: 1 });
    expect(issued!.details).toMatchObject({ audience: TARGET, roles: ['risk_officer'] });
    const jws = await t.db.selectFrom('approval_token').select('jws').where('reference', '=', token).executeTakeFirst();
    expect(JSON.stringify(issued)).not.toContain(token);
    expect(JSON.stringify(issued)).not.toContain(jws!.jws);
  });
});
