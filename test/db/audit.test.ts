import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, canonicalJson, GENESIS_HASH } from '../../src/security/audit-chain';
import {
  appendAuditEvent,
  listAuditEvents,
  recordAuditEpoch,
  recordAuditEvent,
  recordAuditEvents,
  verifyAuditChain,
} from '../../src/db/audit.repository';
import type { AuditKindName } from '../../src/domain/audit/kinds';
import { createTestDatabase, type TestDatabase } from '../helpers';

/** The chain takes any kind: these tests write their own, outside the catalogue on purpose. */
const testKind = (name: string) => name as AuditKindName;

describe('audit log', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('hashes canonical JSON, so key order never matters', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    const at = new Date('2026-11-24T00:00:00.000Z');
    const one = chainHash(GENESIS_HASH, { at, actor: 'a', kind: 'k', subject: 's', details: { x: 1, y: 2 } });
    expect(chainHash(GENESIS_HASH, { at, actor: 'a', kind: 'k', subject: 's', details: { y: 2, x: 1 } })).toBe(one);
    expect(chainHash(GENESIS_HASH, { at, actor: 'b', kind: 'k', subject: 's', details: { y: 2, x: 1 } })).not.toBe(one);
  });

  it('chains events, verifies a clean log, and appends an idempotent event once', async () => {
    expect(await verifyAuditChain(t.db)).toEqual({ ok: true, events: 0, chains: 0, epochs: 0, lastHash: GENESIS_HASH });
    const first = await recordAuditEvent(t.db, {
      actor: 'alice',
      kind: testKind('test.first'),
      subject: 's',
      details: { amount: 12.5, nested: { b: 'x', a: [1, 2] } },
    });
    const second = await recordAuditEvent(t.db, {
      actor: 'bob',
      kind: testKind('test.second'),
      subject: 's',
      idempotencyKey: 'once',
    });
    expect(
      await recordAuditEvent(t.db, {
        actor: 'bob',
        kind: testKind('test.second'),
        subject: 's',
        idempotencyKey: 'once',
      }),
    ).toBeUndefined();
    expect(second!.prev_hash).toBe(first!.hash);
    expect(second!.chain).toBe(0);
    expect(await verifyAuditChain(t.db)).toEqual({ ok: true, events: 2, chains: 1, epochs: 0, lastHash: second!.hash });
  });

  it('appends while another transaction holds an append open: no lock for the whole log', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let first: { chain: number } | undefined;
    const open = t.db.transaction().execute(async (trx) => {
      first = await appendAuditEvent(trx, { actor: 'slow', kind: testKind('test.held'), subject: 's' });
      await held;
    });
    await expect.poll(() => first).toBeDefined();
    // On one chain this append waits for the open transaction, for as long as it stays open.
    const second = await Promise.race([
      recordAuditEvent(t.db, { actor: 'quick', kind: testKind('test.held'), subject: 's' }),
      new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 5_000)),
    ]);
    release();
    await open;
    expect(second).not.toBe('waited');
    expect((second as { chain: number }).chain).not.toBe(first!.chain);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 4, chains: 2 });
  });

  it('keeps every chain valid under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        recordAuditEvent(t.db, { actor: `w${i}`, kind: testKind('test.race'), subject: 's', details: { i } }),
      ),
    );
    const result = await verifyAuditChain(t.db, 7);
    expect(result).toMatchObject({ ok: true, events: 44 });
    expect((result as { chains: number }).chains).toBeGreaterThan(1);
    expect(await listAuditEvents(t.db, { kind: 'test.race' })).toHaveLength(40);
  });

  it('appends made at the same moment share transactions; a duplicate among them is skipped alone', async () => {
    const already = await recordAuditEvent(t.db, {
      actor: 'first',
      kind: testKind('test.group'),
      subject: 's',
      idempotencyKey: 'group-dup',
    });
    const [rows] = await Promise.all([
      Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          recordAuditEvent(t.db, {
            actor: `g${i}`,
            kind: testKind('test.group'),
            subject: 's',
            details: { i },
            // A retry of the first, racing the others: appended once, as alone.
            ...(i === 30 ? { idempotencyKey: 'group-dup' } : {}),
          }),
        ),
      ),
      recordAuditEvents(t.db, [
        { actor: 'pair', kind: testKind('test.pair'), subject: 'one' },
        { actor: 'pair', kind: testKind('test.pair'), subject: 'two' },
      ]),
    ]);
    expect(rows[30]).toBeUndefined();
    expect(rows.filter((r) => r !== undefined).map((r) => r!.actor)).toEqual(
      Array.from({ length: 60 }, (_, i) => `g${i}`).filter((a) => a !== 'g30'),
    );
    expect(already).toBeDefined();
    // Each append its own transaction before: sixty transactions. Now a few groups (rows of one share xmin).
    const transactions = await sql<{ n: number }>`
      select count(distinct xmin::text)::int as n from audit_event where kind = 'test.group' and actor <> 'first'`.execute(
      t.db,
    );
    expect(transactions.rows[0]!.n).toBeLessThanOrEqual(10);
    // One caller's events stay together: consecutive on one chain.
    const pair = await listAuditEvents(t.db, { kind: 'test.pair' });
    const [two, one] = pair;
    expect([one!.subject, two!.subject]).toEqual(['one', 'two']);
    expect(two!.prev_hash).toBe(one!.hash);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true });
  });

  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await expect(t.db.updateTable('audit_event').set({ actor: 'mallory' }).execute()).rejects.toThrow(
      /append-only: UPDATE refused/,
    );
    await expect(t.db.deleteFrom('audit_event').execute()).rejects.toThrow(/append-only: DELETE refused/);
    await expect(sql`truncate audit_event`.execute(t.db)).rejects.toThrow(/append-only: TRUNCATE refused/);
  });

  it('names the first altered event when a superuser edits behind the trigger', async () => {
    const victim = (await listAuditEvents(t.db, { kind: 'test.race', limit: 50 }))[10]!;
    await sql`alter table audit_event disable trigger audit_event_no_update_delete`.execute(t.superuser);
    await sql`update audit_event set details = '{"i": 999}' where id = ${victim.id}`.execute(t.superuser);
    await sql`alter table audit_event enable trigger audit_event_no_update_delete`.execute(t.superuser);
    const result = await verifyAuditChain(t.db, 5);
    expect(result).toMatchObject({
      ok: false,
      brokenAt: { id: victim.id, kind: 'test.race' },
      problem: expect.stringContaining('altered'),
    });
  });

  it('names the epoch that recorded a chain removed whole, or its head removed', async () => {
    const fresh = await createTestDatabase();
    try {
      const hold = async (chains: number) => {
        // Open transactions holding chains 0..n-1, so the next append lands on chain n.
        const releases: (() => void)[] = [];
        const opens: Promise<void>[] = [];
        for (let i = 0; i < chains; i++) {
          let appended!: () => void;
          const ready = new Promise<void>((resolve) => (appended = resolve));
          opens.push(
            fresh.db.transaction().execute(async (trx) => {
              await appendAuditEvent(trx, { actor: 'holder', kind: testKind('test.holder'), subject: 's' });
              appended();
              await new Promise<void>((resolve) => releases.push(resolve));
            }),
          );
          await ready;
        }
        return async () => {
          for (const r of releases) r();
          await Promise.all(opens);
        };
      };
      const done = await hold(1);
      const onChain1 = (await recordAuditEvent(fresh.db, { actor: 'a', kind: testKind('test.side'), subject: 's' }))!;
      const headOfChain1 = (await recordAuditEvent(fresh.db, {
        actor: 'a',
        kind: testKind('test.side'),
        subject: 's',
      }))!;
      await done();
      expect([onChain1.chain, headOfChain1.chain]).toEqual([1, 1]);
      await recordAuditEpoch(fresh.db);
      const [epoch] = await listAuditEvents(fresh.db, { kind: 'audit.epoch' });
      expect(epoch!.details).toEqual({ heads: [{ chain: 1, id: headOfChain1.id, hash: headOfChain1.hash }] });
      expect(await verifyAuditChain(fresh.db)).toMatchObject({ ok: true, events: 3, chains: 2, epochs: 1 });

      await sql`alter table audit_event disable trigger audit_event_no_update_delete`.execute(fresh.superuser);
      await sql`delete from audit_event where id = ${headOfChain1.id}`.execute(fresh.superuser);
      const broken = {
        ok: false,
        brokenAt: { id: epoch!.id, kind: 'audit.epoch' },
        problem: expect.stringContaining('removed'),
      };
      expect(await verifyAuditChain(fresh.db)).toMatchObject(broken);
      await sql`delete from audit_event where chain = 1`.execute(fresh.superuser);
      expect(await verifyAuditChain(fresh.db)).toMatchObject(broken);
    } finally {
      await fresh.drop();
    }
  });

  it('names the event after a deleted one', async () => {
    const fresh = await createTestDatabase();
    try {
      const rows = [];
      for (let i = 0; i < 4; i++)
        rows.push((await recordAuditEvent(fresh.db, { actor: 'a', kind: testKind(`test.${i}`), subject: 's' }))!);
      await sql`alter table audit_event disable trigger audit_event_no_update_delete`.execute(fresh.superuser);
      await sql`delete from audit_event where id = ${rows[1]!.id}`.execute(fresh.superuser);
      expect(await verifyAuditChain(fresh.db)).toMatchObject({
        ok: false,
        events: 1,
        brokenAt: { id: rows[2]!.id },
        problem: expect.stringContaining('removed'),
      });
    } finally {
      await fresh.drop();
    }
  });
});
