import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers';

// Found by the load harness (issue 15): a PostgreSQL crash killed the worker process. A connection the
// pool has handed out (a transaction between two statements) has no error listener of pg-pool's, so its
// "Connection terminated unexpectedly" was an unhandled 'error' event. It must fail only the work on it.
describe('a database connection lost while checked out', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(false);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('fails the transaction on it, not the process, and the pool carries on', async () => {
    const unhandled: unknown[] = [];
    const onUncaught = (error: unknown) => unhandled.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = t.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        // Another session ends this one while the transaction waits between statements.
        await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(t.superuser);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await sql`select 1`.execute(trx);
      });
      await expect(outcome).rejects.toThrow();
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(t.db);
      expect(rows[0]!.one).toBe(1);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
