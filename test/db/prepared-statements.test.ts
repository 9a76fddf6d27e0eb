import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect';
import type { Database } from '../../src/db/database';
import { PREPARED_PER_CONNECTION } from '../../src/db/prepared-statements';
import { createTestDatabase, type TestDatabase } from '../helpers';

// The pool prepares each parameterized statement once per connection (src/db/prepared-statements.ts).
describe('prepared statements on a PostgreSQL connection', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(false);
  });
  afterAll(async () => {
    await t?.drop();
  });

  /** What this connection has prepared: run in a transaction, so on the connection the statements ran on. */
  const preparedIn = (trx: Kysely<Database>) =>
    sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(trx).then((r) => r.rows);

  it('prepares a parameterized statement once and runs it by name after; one without values runs unnamed', async () => {
    await t.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 3; i++) {
        const { rows } = await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(trx);
        expect(rows[0]!.n).toBe(i + 1);
      }
      await sql`select 42`.execute(trx);
      const prepared = (await preparedIn(trx)).map((r) => r.statement);
      expect(prepared.filter((s) => s.includes('$1::int + 1'))).toHaveLength(1);
      expect(prepared.some((s) => s.includes('select 42'))).toBe(false);
    });
  });

  it('a statement a migration made stale fails once, then is prepared afresh', async () => {
    await sql`create table shape (id int primary key, a text)`.execute(t.superuser);
    await sql`insert into shape values (1, 'x')`.execute(t.superuser);
    const opened = await openDatabase({ databaseUrl: t.url, dataDir: '.data' });
    try {
      // One connection, so the stale statement is met again on the same session.
      const read = () =>
        opened.db
          .connection()
          .execute((c) => sql<Record<string, unknown>>`select * from shape where id = ${1}`.execute(c));
      await opened.db.connection().execute(async (c) => {
        const first = await sql<Record<string, unknown>>`select * from shape where id = ${1}`.execute(c);
        expect(first.rows[0]).toEqual({ id: 1, a: 'x' });
        await sql`alter table shape add column b text default 'y'`.execute(t.superuser);
        const stale = await sql`select * from shape where id = ${1}`.execute(c).catch((error: unknown) => error);
        // PostgreSQL may re-plan on its own; where it refuses, it refuses with this error, once.
        if (stale instanceof Error) expect(stale.message).toMatch(/cached plan must not change result type/);
        const again = await sql<Record<string, unknown>>`select * from shape where id = ${1}`.execute(c);
        expect(again.rows[0]).toEqual({ id: 1, a: 'x', b: 'y' });
      });
      expect((await read()).rows).toHaveLength(1);
    } finally {
      await opened.close();
    }
  });

  it(`prepares at most ${PREPARED_PER_CONNECTION} texts per connection; the rest run unnamed and still answer`, async () => {
    await t.db.connection().execute(async (c) => {
      const before = (await preparedIn(c)).length;
      for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
        // A distinct text each time (the alias), as a multi-row insert of each arity would be.
        const { rows } = await sql<{ n: number }>`select ${i}::int as ${sql.ref(`n${i}`)}`.execute(c);
        expect(Object.values(rows[0]!)[0]).toBe(i);
      }
      // Those it had, then new ones up to the cap, and no more.
      expect(before).toBeLessThan(PREPARED_PER_CONNECTION);
      expect((await preparedIn(c)).length).toBe(PREPARED_PER_CONNECTION);
    });
  });
});
