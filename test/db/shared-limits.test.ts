// Issue 15 item 7: what two API processes on one database share — rate-limit
// windows and approval-token spends — holds across their connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spendApprovalToken, TOKEN_ALREADY_USED } from '../../src/db/approval-tokens.repository';
import { openDatabase } from '../../src/db/connect';
import { RateLimiter } from '../../src/operator/api/rate-limit';
import { createTestDatabase, type TestDatabase } from '../helpers';

describe('limits shared through PostgreSQL', () => {
  let t: TestDatabase;
  // A second pool on the same database: what another API process holds.
  let other: Awaited<ReturnType<typeof openDatabase>>;
  beforeAll(async () => {
    t = await createTestDatabase();
    other = await openDatabase({ databaseUrl: t.url, dataDir: '.data' });
  });
  afterAll(async () => {
    await other?.close();
    await t?.drop();
  });

  it('two processes hammering one key together let the limit through once, then 429 with Retry-After', async () => {
    const a = new RateLimiter(t.db);
    const b = new RateLimiter(other.db);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).take('key-1|GET /control-plane', 15)),
    );
    expect(answers.filter((x) => x.ok)).toHaveLength(15);
    const refused = answers.filter((x) => !x.ok);
    expect(refused).toHaveLength(25);
    for (const r of refused) expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect(r.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Other keys, and a scoped API's windows, are their own.
    expect(await b.take('key-2|GET /control-plane', 15)).toEqual({ ok: true, remaining: 14 });
    expect(await new RateLimiter(t.db, 'strict').take('key-1|GET /control-plane', 15)).toMatchObject({ ok: true });
    // A peek counts nothing: what one process counted, the other sees.
    expect(await b.peek('key-1|GET /control-plane', 15)).toMatchObject({ ok: false });
    expect(await b.peek('key-1|GET /control-plane', 16)).toEqual({ ok: true, remaining: 1 });
    expect(await b.peek('key-1|GET /control-plane', 16)).toEqual({ ok: true, remaining: 1 });
  });

  it('old windows are swept by the next process to take after a window has passed', async () => {
    await t.db
      .insertInto('rate_limit_window')
      .values({ key: 'stale', window_start: new Date(Date.now() - 10 * 60_000), count: 3 })
      .execute();
    await new RateLimiter(other.db).take('fresh', 5);
    const keys = await t.db.selectFrom('rate_limit_window').select('key').execute();
    expect(keys.map((k) => k.key)).not.toContain('stale');
    expect(keys.map((k) => k.key)).toContain('fresh');
  });

  it('one approval token spent through two processes at once is spent exactly once', async () => {
    const token = { tokenId: 'tok-shared-1', subject: 'alice' };
    const spends = await Promise.all([
      spendApprovalToken(t.db, token, { audience: 'control-plane:release', requestKey: 'request-a' }),
      spendApprovalToken(other.db, token, { audience: 'control-plane:release', requestKey: 'request-b' }),
    ]);
    expect(spends.filter((s) => s.ok)).toHaveLength(1);
    expect(spends.filter((s) => !s.ok)).toEqual([{ ok: false, problem: TOKEN_ALREADY_USED }]);
  });
});
