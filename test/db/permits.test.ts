import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumePermit, issuePermit, listPermits, revokePermit } from '../../src/db/permits.repository';
import { DEFAULT_GOVERNOR_SETTINGS, decidePermit } from '../../src/domain/permits/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

const t0 = new Date('2026-11-24T10:00:00Z').getTime();
const at = (minutes: number, seconds = 0) => new Date(t0 + minutes * 60_000 + seconds * 1000);

describe('decidePermit (pure)', () => {
  it('checks the burst window first, then the hour', () => {
    expect(decidePermit({ lastHour: 1, last5Min: 1 }, DEFAULT_GOVERNOR_SETTINGS)).toEqual({ ok: true });
    expect(decidePermit({ lastHour: 2, last5Min: 2 }, DEFAULT_GOVERNOR_SETTINGS)).toMatchObject({ ok: false, reason: 'burst_limit_exceeded', disarm: true });
    expect(decidePermit({ lastHour: 3, last5Min: 0 }, DEFAULT_GOVERNOR_SETTINGS)).toMatchObject({ ok: false, reason: 'hourly_limit_exceeded', disarm: false });
    expect(decidePermit({ lastHour: 2, last5Min: 2 }, { ...DEFAULT_GOVERNOR_SETTINGS, autoDisarm: false })).toMatchObject({ disarm: false });
  });
});

describe('execution permits on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });
  const issue = (key: string, when: Date, symbol = 'BTCUSDT') => issuePermit(t.db, DEFAULT_GOVERNOR_SETTINGS, { key, dealId: key, symbol, at: when, actor: 'test' });

  it('enforces 2 per 5 minutes and 3 per hour per symbol over sliding windows, with block records', async () => {
    expect(await issue('d1', at(0))).toMatchObject({ granted: true });
    expect(await issue('d2', at(1))).toMatchObject({ granted: true });
    expect(await issue('d3', at(2))).toMatchObject({ granted: false, reason: 'burst_limit_exceeded', disarm: true });
    expect(await issue('other', at(2), 'ETHUSDT')).toMatchObject({ granted: true });
    // d1 leaves the 5-minute window at 5:00; the hour still holds two.
    expect(await issue('d4', at(5, 1))).toMatchObject({ granted: true });
    expect(await issue('d5', at(20))).toMatchObject({ granted: false, reason: 'hourly_limit_exceeded', disarm: false });
    expect(await issue('d6', at(60, 1))).toMatchObject({ granted: true });
    const { blocks, disarms } = await listPermits(t.db, { symbol: 'BTCUSDT' });
    expect(blocks.map((b) => b.reason).sort()).toEqual(['burst_limit_exceeded', 'hourly_limit_exceeded']);
    expect(disarms).toMatchObject([{ reason: 'burst_limit_breach', symbol: 'BTCUSDT' }]);
  });

  it('is idempotent per key, and a revoked permit stops counting', async () => {
    const first = await issue('d1', at(0));
    expect(await issue('d1', at(3))).toEqual(first);
    const second = await issue('d2', at(1));
    expect(await issue('d3', at(2))).toMatchObject({ granted: false });
    expect(await issue('d3', at(2))).toMatchObject({ granted: false, reason: 'burst_limit_exceeded' });
    expect((await listPermits(t.db)).blocks).toHaveLength(1);
    if (!second.granted) throw new Error('expected a permit');
    expect(await revokePermit(t.db, { permitId: second.permitId, reason: 'deal denied' })).toEqual({ revoked: true });
    expect(await issue('d4', at(2))).toMatchObject({ granted: true });
  });

  it('is single-use, bound to its deal, and expires after its TTL', async () => {
    const permit = await issue('d1', at(0));
    if (!permit.granted) throw new Error('expected a permit');
    expect(permit.expiresAt).toBe(at(1).toISOString());
    expect(await consumePermit(t.db, { permitId: permit.permitId, dealId: 'someone-else', at: at(0, 10) })).toEqual({ ok: false, reason: 'permit_missing' });
    expect(await consumePermit(t.db, { permitId: permit.permitId, dealId: 'd1', at: at(0, 10) })).toEqual({ ok: true });
    expect(await consumePermit(t.db, { permitId: permit.permitId, dealId: 'd1', at: at(0, 20) })).toEqual({ ok: true }); // the same deal retrying
    expect(await revokePermit(t.db, { permitId: permit.permitId, reason: 'late' })).toEqual({ revoked: false });

    const late = await issue('d2', at(10));
    if (!late.granted) throw new Error('expected a permit');
    expect(await consumePermit(t.db, { permitId: late.permitId, dealId: 'd2', at: at(11, 1) })).toEqual({ ok: false, reason: 'permit_expired' });
  });
});
