import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import { createStrategyGateActivities } from '../../activities/strategy-gate';
import type { StrategyOrder } from '../../src/domain/strategy/gate';
import { listAuditEvents } from '../../src/db/audit.repository';
import { addApprover } from '../../src/db/autonomy.repository';
import { reconcilePosition } from '../../src/db/positions.repository';
import { evaluateStrategyDrift, setDriftBaseline } from '../../src/db/strategy-drift.repository';
import { getStrategy, type Strategy } from '../../src/db/strategy.repository';
import { seedStrategy } from '../support/strategies';
import { issueToken } from '../../src/db/execution-tokens.repository';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import { createTestDatabase, type TestDatabase } from '../helpers';

// Only the control plane's port is stubbed: a KILL verdict engages the kill switch through it.
describe('strategy gate activities on PostgreSQL', () => {
  let t: TestDatabase;
  let controlPlane: { engageKillSwitch: Mock<ControlPlanePort['engageKillSwitch']> };
  beforeEach(async () => {
    t = await createTestDatabase();
    controlPlane = { engageKillSwitch: vi.fn<ControlPlanePort['engageKillSwitch']>(async () => undefined) };
  });
  afterEach(async () => {
    await t.drop();
  });

  const gate = () => createStrategyGateActivities({ db: t.db, controlPlane });
  const strategy = (over: Partial<Strategy> = {}) =>
    seedStrategy(
      t.db,
      {
        id: 'mr-1',
        enabled: true,
        level: 'L3',
        paused: false,
        pausedReason: null,
        capital: 100_000,
        tokenRequired: false,
        healthFloor: 0.25,
        ...over,
      },
      'setup',
      'test',
    );
  const order = (over: Partial<StrategyOrder> = {}): StrategyOrder => ({
    traceId: randomUUID(),
    strategyId: 'mr-1',
    symbol: 'BTCUSDT',
    side: 'buy',
    position: 0,
    notional: 1000,
    impact: {},
    tokenId: undefined,
    at: new Date().toISOString(),
    ...over,
  });
  const decided = async (o: StrategyOrder) => {
    const outcome = await gate().evaluateStrategyGate(o);
    if (!outcome.enabled) throw new Error('expected the gate to be on');
    return outcome;
  };
  const logRows = () => t.db.selectFrom('governance_log').select(['trace_id', 'action']).orderBy('id').execute();
  /** Outcomes stored straight in the table, `ms` after now, as evidence for the current level. */
  const seedOutcomes = async (pnls: number[]) => {
    const base = Date.now() + 1000;
    await t.db
      .insertInto('strategy_outcome')
      .values(pnls.map((pnl, i) => ({ strategy_id: 'mr-1', deal_id: `seed-${i}`, pnl, at: new Date(base + i) })))
      .execute();
  };

  describe('evaluateStrategyGate', () => {
    it('is off for a strategy not opted in: nothing is logged', async () => {
      expect(await gate().evaluateStrategyGate(order())).toEqual({ enabled: false });
      await strategy({ enabled: false });
      expect(await gate().evaluateStrategyGate(order())).toEqual({ enabled: false });
      expect(await logRows()).toEqual([]);
    });

    it('L3 caps the size at 25%; a retry of the trace id returns the first outcome, logged once', async () => {
      await strategy();
      const o = order();
      const first = await decided(o);
      expect(first).toMatchObject({
        level: 'L3',
        kill: null,
        approvers: {},
        decision: {
          action: 'REDUCE_SIZE',
          sizeMultiplier: 0.25,
          execution: 'live',
          reasons: ['maturity: L3 caps size at 25%'],
        },
      });
      // Promoted meanwhile (an approved promotion: an upsert no longer moves the level): the retry still answers as decided.
      await gate().promoteStrategy({ strategyId: 'mr-1', from: 'L3', to: 'L4', approver: 'alice', role: 'tech_lead' });
      expect(await gate().evaluateStrategyGate(o)).toEqual(first);
      expect(await logRows()).toEqual([{ trace_id: o.traceId, action: 'REDUCE_SIZE' }]);
      expect(await decided(order())).toMatchObject({ level: 'L4', decision: { action: 'ALLOW', sizeMultiplier: 1 } });
    });

    it('blocks an impact above the level, and sends a CRITICAL one for approval with the approvers', async () => {
      await strategy();
      await addApprover(t.db, 'tech_lead', 'alice', 'setup');
      const outcome = await decided(
        order({ notional: 200_000, impact: { irreversible: true, blastRadius: 'market', concentration: 0.3 } }),
      );
      expect(outcome.decision).toMatchObject({ action: 'BLOCK', execution: 'approval' });
      expect(outcome.decision.reasons).toContain('impact: CRITICAL impact needs L4');
      expect(outcome.approvers).toEqual({ tech_lead: ['alice'], ops_lead: [], product_lead: [], exec_sponsor: [] });
    });

    it('a failing canary votes KILL and the kill switch is engaged through the port, again on a retry', async () => {
      await strategy({ level: 'L4' });
      await t.db
        .insertInto('canary_check_state')
        .values({
          name: 'postgres',
          consecutive_failures: 3,
          last_ok: false,
          last_error: 'refused',
          last_checked_at: new Date(),
        })
        .execute();
      const o = order();
      expect(await decided(o)).toMatchObject({
        decision: { action: 'KILL' },
        kill: 'canary: canary failing: postgres',
      });
      const engaged = {
        source: 'strategy-gate',
        actor: 'strategy-gate',
        reason: 'mr-1: canary: canary failing: postgres',
      };
      expect(controlPlane.engageKillSwitch.mock.calls).toEqual([[engaged]]);
      // The engage may have been lost: a retry engages again, from the logged decision.
      await gate().evaluateStrategyGate(o);
      expect(controlPlane.engageKillSwitch.mock.calls).toEqual([[engaged], [engaged]]);
      expect(await logRows()).toHaveLength(1);
    });

    it('a canary failing fewer times than the threshold does not kill', async () => {
      await strategy({ level: 'L4' });
      await t.db
        .insertInto('canary_check_state')
        .values({
          name: 'postgres',
          consecutive_failures: 2,
          last_ok: false,
          last_error: 'refused',
          last_checked_at: new Date(),
        })
        .execute();
      expect(await decided(order())).toMatchObject({ decision: { action: 'ALLOW' }, kill: null });
      expect(controlPlane.engageKillSwitch).not.toHaveBeenCalled();
    });

    it('checks execution tokens when required, auditing each use and refusal', async () => {
      await strategy({ level: 'L4', tokenRequired: true });
      expect((await decided(order())).decision).toMatchObject({ action: 'BLOCK', reasons: ['token: token_missing'] });
      const token = await issueToken(t.db, {
        strategyId: 'mr-1',
        symbols: ['BTCUSDT'],
        maxNotional: 5000,
        actions: ['buy'],
        ttlSeconds: 600,
        actor: 'olga',
      });
      expect((await decided(order({ tokenId: token.id, symbol: 'ETHUSDT' }))).decision).toMatchObject({
        action: 'BLOCK',
        reasons: ['token: token_symbol_out_of_scope'],
      });
      expect((await decided(order({ tokenId: token.id, notional: 6000 }))).decision).toMatchObject({
        action: 'BLOCK',
        reasons: ['token: token_notional_exceeded'],
      });
      expect((await decided(order({ tokenId: token.id }))).decision).toMatchObject({ action: 'ALLOW' });
      const events = await listAuditEvents(t.db, { subject: `token:${token.id}` });
      expect(events.map((e) => [e.kind, (e.details as { result: unknown }).result])).toEqual([
        ['token.used', { ok: true }],
        ['token.refused', { ok: false, reason: 'token_notional_exceeded' }],
        ['token.refused', { ok: false, reason: 'token_symbol_out_of_scope' }],
      ]);
    });

    it('drift beyond 50% pauses the strategy once; a reduce-only exit still goes', async () => {
      await strategy({ level: 'L4' });
      await setDriftBaseline(t.db, { strategyId: 'mr-1', metric: 'sharpe', baselineValue: 2, actor: 'quant' });
      await evaluateStrategyDrift(t.db, { strategyId: 'mr-1', metric: 'sharpe', liveValue: 0.9 });
      const paused = await decided(order());
      expect(paused.decision).toMatchObject({ action: 'PAUSE', reasons: ['drift: drift beyond 50%'] });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ paused: true, pausedReason: 'drift: drift beyond 50%' });
      expect((await decided(order())).decision).toMatchObject({
        action: 'PAUSE',
        reasons: ['state: strategy is paused', 'drift: drift beyond 50%'],
      });
      expect(await listAuditEvents(t.db, { kind: 'strategy.paused' })).toHaveLength(1);
      // The payload's claimed position unlocks nothing; Warden's own position does.
      expect((await decided(order({ side: 'sell', position: 5000, notional: 1000 }))).decision).toMatchObject({
        action: 'PAUSE',
        reduceOnlyExit: false,
      });
      await reconcilePosition(t.db, {
        scope: 'strategy',
        scopeId: 'mr-1',
        symbol: 'BTCUSDT',
        quantity: 5000,
        actor: 'ops',
        reason: 'opening book',
      });
      expect((await decided(order({ side: 'sell', notional: 1000 }))).decision).toMatchObject({
        action: 'ALLOW',
        execution: 'live',
        reduceOnlyExit: true,
      });
    });

    it('a loss streak beyond 10 demotes one level, audited with the trace id', async () => {
      await strategy();
      await seedOutcomes(Array(11).fill(-10));
      const o = order();
      expect((await decided(o)).decision).toMatchObject({
        action: 'DEMOTE',
        reasons: ['maturity: loss streak 11 > 10', 'health: health 0.45'],
      });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L2' });
      expect((await listAuditEvents(t.db, { kind: 'strategy.demoted' })).map((e) => e.details)).toEqual([
        { from: 'L3', to: 'L2', reason: 'loss streak 11 > 10', traceId: o.traceId },
      ]);
    });
    it('concurrent attempts of one order, or orders decided from the same level, demote once', async () => {
      await strategy();
      await seedOutcomes(Array(11).fill(-10));
      // Decided after the seeded evidence, so the demoted level starts a clean record.
      const later = new Date(Date.now() + 60_000).toISOString();
      const o = order({ at: later });
      const p = order({ at: later });
      const [first, retry, other] = await Promise.all([decided(o), decided(o), decided(p)]);
      expect(retry).toEqual(first);
      // Whichever order takes the strategy's row first demotes it; the other is decided at the level it left.
      const demoted = [
        { order: o, outcome: first },
        { order: p, outcome: other },
      ].filter(({ outcome }) => outcome.decision.action === 'DEMOTE');
      expect(demoted).toHaveLength(1);
      const after = demoted[0]!.order === o ? other : first;
      expect(after).toMatchObject({ level: 'L2' });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L2' });
      expect((await listAuditEvents(t.db, { kind: 'strategy.demoted' })).map((e) => e.details)).toEqual([
        { from: 'L3', to: 'L2', reason: 'loss streak 11 > 10', traceId: demoted[0]!.order.traceId },
      ]);
      expect(await logRows()).toHaveLength(2);
    });

    it('concurrent orders pause a drifting strategy once', async () => {
      await strategy({ level: 'L4' });
      await setDriftBaseline(t.db, { strategyId: 'mr-1', metric: 'sharpe', baselineValue: 2, actor: 'quant' });
      await evaluateStrategyDrift(t.db, { strategyId: 'mr-1', metric: 'sharpe', liveValue: 0.9 });
      const o = order();
      const outcomes = await Promise.all([decided(o), decided(o), decided(order()), decided(order())]);
      expect(outcomes.map((x) => x.decision.action)).toEqual(['PAUSE', 'PAUSE', 'PAUSE', 'PAUSE']);
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(await listAuditEvents(t.db, { kind: 'strategy.paused' })).toHaveLength(1);
      expect(await logRows()).toHaveLength(3);
    });
  });

  describe('recordStrategyOutcome and promoteStrategy', () => {
    it('ignores an outcome for a strategy that does not exist, without writes', async () => {
      expect(
        await gate().recordStrategyOutcome({
          strategyId: 'ghost',
          dealId: 'd-1',
          pnl: 5,
          at: new Date().toISOString(),
        }),
      ).toEqual({ demotedTo: null, promotionTo: null, promotion: null });
      expect(await t.db.selectFrom('strategy_outcome').selectAll().execute()).toEqual([]);
    });

    it("stores a deal's outcome once and demotes once, however often it is retried", async () => {
      await strategy();
      await seedOutcomes(Array(10).fill(-10));
      const input = { strategyId: 'mr-1', dealId: 'd-11', pnl: -10, at: new Date(Date.now() + 5000).toISOString() };
      const first = await gate().recordStrategyOutcome(input);
      expect(first).toEqual({ demotedTo: 'L2', promotionTo: null, promotion: null });
      // The activity's retry, and a concurrent attempt: the first answer, nothing written again.
      expect(await Promise.all([gate().recordStrategyOutcome(input), gate().recordStrategyOutcome(input)])).toEqual([
        first,
        first,
      ]);
      expect(
        await t.db.selectFrom('strategy_outcome').select(t.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      ).toEqual({ n: '11' });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L2' });
      expect((await listAuditEvents(t.db, { kind: 'strategy.demoted' })).map((e) => e.details)).toEqual([
        { from: 'L3', to: 'L2', reason: 'loss streak 11 > 10', dealId: 'd-11' },
      ]);
    });

    it('stores the outcome, the demotion and its audit together, or none of them', async () => {
      await strategy();
      await seedOutcomes(Array(10).fill(-10));
      const input = { strategyId: 'mr-1', dealId: 'd-11', pnl: -10, at: new Date(Date.now() + 5000).toISOString() };
      // The audit write fails (a crash between the writes): nothing of the attempt may stay behind.
      await sql`create function refuse_demotion() returns trigger language plpgsql as $$
        begin if new.kind = 'strategy.demoted' then raise exception 'crash before the audit'; end if; return new; end $$`.execute(
        t.superuser,
      );
      await sql`create trigger refuse_demotion before insert on audit_event
        for each row execute function refuse_demotion()`.execute(t.superuser);
      await expect(gate().recordStrategyOutcome(input)).rejects.toThrow(/crash before the audit/);
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L3' });
      expect(
        await t.db.selectFrom('strategy_outcome').select('deal_id').where('deal_id', '=', 'd-11').execute(),
      ).toEqual([]);
      await sql`drop trigger refuse_demotion on audit_event`.execute(t.superuser);

      // The retry demotes, audited, and answers as the first attempt would have.
      expect(await gate().recordStrategyOutcome(input)).toEqual({
        demotedTo: 'L2',
        promotionTo: null,
        promotion: null,
      });
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L2' });
      expect(await listAuditEvents(t.db, { kind: 'strategy.demoted' })).toHaveLength(1);
    });

    it('proposes a promotion when the evidence earns it, and applies it once, only from where it was found', async () => {
      await strategy({ level: 'L2' });
      await addApprover(t.db, 'tech_lead', 'alice', 'setup');
      // 49 trades, 30 wins of 20 and 19 losses of 10: win rate 0.6, profit factor > 3.
      await seedOutcomes([...Array(30).fill(20), ...Array(19).fill(-10)]);
      const effects = await gate().recordStrategyOutcome({
        strategyId: 'mr-1',
        dealId: 'd-50',
        pnl: 20,
        at: new Date(Date.now() + 5000).toISOString(),
      });
      expect(effects).toMatchObject({
        demotedTo: null,
        promotionTo: 'L3',
        promotion: {
          strategyId: 'mr-1',
          from: 'L2',
          to: 'L3',
          evidence: { trades: 50, winRate: 0.62 },
          approvers: { tech_lead: ['alice'] },
        },
      });
      expect(effects.promotion!.evidence.profitFactor).toBe(String(620 / 190));

      const promote = {
        strategyId: 'mr-1',
        from: 'L2' as const,
        to: 'L3' as const,
        approver: 'alice',
        role: 'tech_lead',
      };
      expect(await gate().promoteStrategy(promote)).toBe(true);
      expect(await gate().promoteStrategy(promote)).toBe(false);
      expect(await gate().promoteStrategy({ ...promote, from: 'L3', to: 'L4', approver: 'mallory' })).toBe(true);
      expect(await gate().promoteStrategy({ ...promote, strategyId: 'ghost' })).toBe(false);
      expect(await getStrategy(t.db, 'mr-1')).toMatchObject({ level: 'L4' });
      expect((await listAuditEvents(t.db, { kind: 'strategy.promoted' })).map((e) => [e.actor, e.details])).toEqual([
        ['mallory', { strategyId: 'mr-1', from: 'L3', to: 'L4', approver: 'mallory', role: 'tech_lead' }],
        ['alice', { ...promote }],
      ]);
    });
  });
});
