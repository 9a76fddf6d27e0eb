import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readGovernanceState } from '../../src/db/autonomy.repository';
import { insertBreakerEvent, setPausedCommandTypes } from '../../src/db/breakers.repository';
import { insertClaim, settleOrphanClaim } from '../../src/db/deal-claims.repository';
import { findToken } from '../../src/db/execution-tokens.repository';
import {
  applyPolicyChanges,
  PolicyChangeRefusedError,
  readStoredValue,
  StaleChangeError,
} from '../../src/db/policy-state.repository';
import { readPosition, reconcilePosition } from '../../src/db/positions.repository';
import { getStrategy, upsertStrategy } from '../../src/db/strategy.repository';
import type { PolicyChange } from '../../src/domain/change-requests/changes';
import { createScratchDatabase } from '../support/processes';

// The appliers of operational changes: one transaction with the setter's own audit event (now carrying the
// request id), after checking the stored value is still the one the request was read against.
describe('operational changes on PostgreSQL', () => {
  let d: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    d = await createScratchDatabase('operational_changes');
    await upsertStrategy(
      d.db,
      {
        id: 's1',
        level: 'L0',
        enabled: true,
        paused: true,
        pausedReason: 'drift',
        capital: 1000,
        tokenRequired: true,
        healthFloor: 0.25,
      },
      'test',
      'seed',
    );
  });
  afterAll(async () => {
    await d.drop();
  });

  let seq = 0;
  const apply = (change: PolicyChange) => {
    const changeRequestId = `cr-${String(++seq).padStart(12, '0')}`;
    return d.db
      .transaction()
      .execute((trx) => applyPolicyChanges(trx, [change], { actor: 'alice', changeRequestId }))
      .then(() => changeRequestId);
  };
  const audited = async (changeRequestId: string) =>
    (await listAuditEvents(d.db, { limit: 1000 })).filter(
      (e) => (e.details as { changeRequestId?: string }).changeRequestId === changeRequestId,
    );
  const read = async <K extends PolicyChange['kind']>(kind: K, target: string) => readStoredValue(d.db, kind, target);

  it('issues an execution token under the id its request names', async () => {
    const id = randomUUID();
    const after = { strategyId: 's1', symbols: ['*'], maxNotional: 50, actions: ['buy' as const], ttlSeconds: 600 };
    expect(await read('execution_token', id)).toBeNull();
    const cr = await apply({ kind: 'execution_token', target: id, before: null, after });
    expect(await findToken(d.db, id)).toMatchObject({ strategyId: 's1', maxNotional: 50, revokedAt: null });
    expect(await read('execution_token', id)).toEqual(after);
    expect(await audited(cr)).toEqual([expect.objectContaining({ kind: 'token.issued', actor: 'alice' })]);
    // Applied twice, the second finds it there: stale, nothing written.
    await expect(apply({ kind: 'execution_token', target: id, before: null, after })).rejects.toThrow(StaleChangeError);
  });

  it("lifts a strategy's pause only as read", async () => {
    const before = await read('strategy_pause', 's1');
    expect(before).toEqual({ paused: true, reason: 'drift' });
    await expect(
      apply({
        kind: 'strategy_pause',
        target: 's1',
        before: { paused: true, reason: 'other' },
        after: { paused: false, reason: null },
      }),
    ).rejects.toThrow(StaleChangeError);
    const cr = await apply({ kind: 'strategy_pause', target: 's1', before, after: { paused: false, reason: null } });
    expect(await getStrategy(d.db, 's1')).toMatchObject({ paused: false, pausedReason: null, level: 'L0' });
    expect(await audited(cr)).toEqual([expect.objectContaining({ kind: 'strategy.changed' })]);
  });

  it('resolves a breaker event and lifts its command-type pause; what tripped is not the request’s to change', async () => {
    const trip = {
      rule: 'r1',
      action: 'pause_command_type' as const,
      alertSeverity: 'high' as const,
      observed: 3,
      detail: 'x',
    };
    const id = await insertBreakerEvent(d.db, { ...trip, commandType: 'DEPLOY' }, new Date());
    await setPausedCommandTypes(d.db, ['DEPLOY', 'RESTART'], new Date());
    const before = (await read('breaker_event', id))!;
    expect(before).toEqual({
      rule: 'r1',
      action: 'pause_command_type',
      commandType: 'DEPLOY',
      resolved: false,
      resolution: null,
    });
    await expect(
      apply({
        kind: 'breaker_event',
        target: id,
        before,
        after: { ...before, commandType: 'RESTART', resolved: true, resolution: 'ok' },
      }),
    ).rejects.toThrow(PolicyChangeRefusedError);
    expect((await readGovernanceState(d.db)).pausedCommandTypes).toEqual(['DEPLOY', 'RESTART']);
    const cr = await apply({
      kind: 'breaker_event',
      target: id,
      before,
      after: { ...before, resolved: true, resolution: 'ok' },
    });
    expect((await readGovernanceState(d.db)).pausedCommandTypes).toEqual(['RESTART']);
    expect(await read('breaker_event', id)).toMatchObject({ resolved: true, resolution: 'ok' });
    expect(await audited(cr)).toEqual([expect.objectContaining({ kind: 'breaker.resolved' })]);
  });

  it('sets a position as read, and goes stale when a deal moved it first', async () => {
    const key = { scope: 'strategy' as const, scopeId: 's1', symbol: 'BTCUSDT' };
    const target = 'strategy:s1:BTCUSDT';
    expect(await read('position', target)).toBe(0);
    const cr = await apply({ kind: 'position', target, before: 0, after: 120 });
    expect(await readPosition(d.db, key)).toBe(120);
    expect(await audited(cr)).toEqual([
      expect.objectContaining({
        kind: 'position.reconciled',
        details: expect.objectContaining({ before: 0, after: 120 }),
      }),
    ]);
    await reconcilePosition(d.db, { ...key, quantity: 80, actor: 'bob', reason: 'moved' });
    await expect(apply({ kind: 'position', target, before: 120, after: 200 })).rejects.toThrow(StaleChangeError);
    expect(await readPosition(d.db, key)).toBe(80);
  });

  it('approves a deal release only while its deal waits in needs_reconciliation, audited with the request', async () => {
    const terms = {
      engine: 'WHOLESALE',
      symbol: 'BTCUSDT',
      amount: 10,
      executionClass: 'PROD_EXEC',
      strategyId: null,
      side: 'buy' as const,
    };
    await insertClaim(d.db, { dealId: 'rel-1', terms, workflowId: 'deal-rel-1', runId: 'r1' });
    expect(await read('deal_release', 'rel-1')).toBe('claimed');
    // Read while the deal was still claimed: the claim moved on since, so the request is stale.
    await settleOrphanClaim(d.db, 'rel-1', { stage: 'needs_reconciliation' });
    await expect(
      apply({ kind: 'deal_release', target: 'rel-1', before: 'claimed', after: 'released' }),
    ).rejects.toThrow(StaleChangeError);
    const cr = await apply({
      kind: 'deal_release',
      target: 'rel-1',
      before: 'needs_reconciliation',
      after: 'released',
    });
    expect(await audited(cr)).toEqual([
      expect.objectContaining({
        kind: 'deal.release_approved',
        subject: 'deal:rel-1',
        details: { dealId: 'rel-1', changeRequestId: cr },
      }),
    ]);
    // The claim is the workflow's to settle: the request only approves the word it then sends.
    expect(await read('deal_release', 'rel-1')).toBe('needs_reconciliation');
    await expect(apply({ kind: 'deal_release', target: 'nobody', before: null, after: 'released' })).rejects.toThrow(
      PolicyChangeRefusedError,
    );
  });
});
