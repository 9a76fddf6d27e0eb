import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import {
  checkToken,
  classifyImpact,
  computeHealth,
  decideStrategyGate,
  demotionFor,
  type ExecutionToken,
  type GateDecision,
  type ImpactInput,
  isReduceOnly,
  type MaturityLevel,
  promotionCheck,
  tradeStats,
} from '../domain/strategy/rules';
import { appendAuditEvent, recordAuditEvent } from './audit.repository';
import type { Database, StrategyTable } from './database';
import { listApprovers } from './autonomy.repository';
import { evaluateStrategyDrift } from './watchdogs.repository';

/** How far back the health and maturity evidence reaches. */
const EVIDENCE_TRADES = 500;
const CANARY_FAILING_AT = 3;
/** The health tracker's rolling window. */
const HEALTH_WINDOW = 20;
/** Outcomes behind the live win rate the drift detector compares. */
const DRIFT_WINDOW = 50;

export interface Strategy {
  id: string;
  enabled: boolean;
  level: MaturityLevel;
  paused: boolean;
  pausedReason: string | null;
  capital: number;
  tokenRequired: boolean;
  healthFloor: number;
}

const toStrategy = (r: Selectable<StrategyTable>): Strategy => ({
  id: r.id,
  enabled: r.enabled,
  level: r.level,
  paused: r.paused,
  pausedReason: r.paused_reason,
  capital: r.capital,
  tokenRequired: r.token_required,
  healthFloor: r.health_floor,
});

export async function getStrategy(db: Kysely<Database>, id: string): Promise<Strategy | undefined> {
  const row = await db.selectFrom('strategy').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toStrategy(row) : undefined;
}

/** Opt in (or change) a strategy; every change is audited. */
export async function upsertStrategy(db: Kysely<Database>, s: Strategy, actor: string, reason: string): Promise<Strategy> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('strategy').selectAll().where('id', '=', s.id).forUpdate().executeTakeFirst();
    const levelChanged = before?.level !== s.level;
    const values = { enabled: s.enabled, level: s.level, ...(levelChanged ? { level_since: new Date() } : {}), paused: s.paused, paused_reason: s.pausedReason, capital: s.capital, token_required: s.tokenRequired, health_floor: s.healthFloor, updated_at: new Date() };
    await trx.insertInto('strategy').values({ id: s.id, ...values }).onConflict((oc) => oc.column('id').doUpdateSet(values)).execute();
    await appendAuditEvent(trx, { actor, kind: 'strategy.changed', subject: `strategy:${s.id}`, details: { before: before ? toStrategy(before) : null, after: s, reason } });
    return s;
  });
}

/** P&L oldest first; `since` limits it to the current level's record (maturity evidence), none for health. */
async function pnls(db: Kysely<Database>, strategyId: string, since?: Date): Promise<number[]> {
  let q = db.selectFrom('strategy_outcome').select('pnl').where('strategy_id', '=', strategyId).orderBy('id', 'desc').limit(EVIDENCE_TRADES);
  if (since) q = q.where('at', '>=', since);
  return (await q.execute()).map((r) => r.pnl).reverse();
}

async function levelSince(db: Kysely<Database>, strategyId: string): Promise<Date> {
  return (await db.selectFrom('strategy').select('level_since').where('id', '=', strategyId).executeTakeFirstOrThrow()).level_since;
}

export async function strategyReport(db: Kysely<Database>, id: string) {
  const strategy = await getStrategy(db, id);
  if (!strategy) return undefined;
  const stats = tradeStats(await pnls(db, id, await levelSince(db, id)), strategy.capital);
  return { strategy, stats, health: computeHealth(await pnls(db, id), HEALTH_WINDOW, strategy.healthFloor), promotion: promotionCheck(strategy.level, stats), demotion: demotionFor(strategy.level, stats) ?? null };
}

function toToken(r: Selectable<Database['execution_token']>): ExecutionToken & { traceId: string; issuedBy: string } {
  return {
    id: r.id,
    strategyId: r.strategy_id,
    symbols: r.symbols,
    maxNotional: r.max_notional,
    actions: r.actions,
    expiresAt: r.expires_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
    traceId: r.trace_id,
    issuedBy: r.issued_by,
  };
}

export async function issueToken(
  db: Kysely<Database>,
  input: { strategyId: string; symbols: string[]; maxNotional: number; actions: ('buy' | 'sell')[]; ttlSeconds: number; traceId?: string; actor: string },
) {
  const id = randomUUID();
  const expires = new Date(Date.now() + input.ttlSeconds * 1000);
  const traceId = input.traceId ?? randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('execution_token')
      .values({ id, strategy_id: input.strategyId, symbols: JSON.stringify(input.symbols), max_notional: input.maxNotional, actions: JSON.stringify(input.actions), trace_id: traceId, issued_by: input.actor, expires_at: expires, revoked_at: null, revoked_by: null })
      .execute();
    await appendAuditEvent(trx, { actor: input.actor, kind: 'token.issued', subject: `strategy:${input.strategyId}`, details: { tokenId: id, traceId, symbols: input.symbols, maxNotional: input.maxNotional, actions: input.actions, expiresAt: expires.toISOString() } });
  });
  return toToken(await db.selectFrom('execution_token').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** Revokes one token, or every live token of a strategy. Returns how many. */
export async function revokeTokens(db: Kysely<Database>, target: { tokenId: string } | { strategyId: string }, actor: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let q = trx.updateTable('execution_token').set({ revoked_at: new Date(), revoked_by: actor }).where('revoked_at', 'is', null);
    q = 'tokenId' in target ? q.where('id', '=', target.tokenId) : q.where('strategy_id', '=', target.strategyId);
    const rows = await q.returning('id').execute();
    if (rows.length > 0) await appendAuditEvent(trx, { actor, kind: 'token.revoked', subject: 'tokenId' in target ? `token:${target.tokenId}` : `strategy:${target.strategyId}`, details: { tokens: rows.map((r) => r.id) } });
    return rows.length;
  });
}

export async function listTokens(db: Kysely<Database>, strategyId?: string) {
  let q = db.selectFrom('execution_token').selectAll().orderBy('issued_at', 'desc').limit(100);
  if (strategyId) q = q.where('strategy_id', '=', strategyId);
  return (await q.execute()).map(toToken);
}

export interface StrategyOrder {
  traceId: string;
  strategyId: string;
  symbol: string;
  side: 'buy' | 'sell';
  position: number;
  notional: number;
  impact: ImpactInput;
  tokenId: string | undefined;
  at: string;
}

export type StrategyGateOutcome =
  | { enabled: false }
  | { enabled: true; level: MaturityLevel; decision: GateDecision; approvers: Record<string, string[]>; kill: string | null };

/**
 * Seed 001's GovernanceGate for one order: every component votes, the most
 * restrictive wins, and its side effects happen here (DEMOTE demotes, PAUSE
 * pauses the strategy); a KILL is returned for the caller to engage. One
 * governance log row per decision, keyed by the trace id.
 */
export async function evaluateStrategyOrder(db: Kysely<Database>, order: StrategyOrder): Promise<StrategyGateOutcome> {
  const started = performance.now();
  const strategy = await getStrategy(db, order.strategyId);
  if (!strategy || !strategy.enabled) return { enabled: false };
  const prior = await db.selectFrom('governance_log').select(['details']).where('trace_id', '=', order.traceId).executeTakeFirst();
  if (prior) return prior.details as unknown as StrategyGateOutcome;

  const stats = tradeStats(await pnls(db, strategy.id, await levelSince(db, strategy.id)), strategy.capital);
  const health = computeHealth(await pnls(db, strategy.id), HEALTH_WINDOW, strategy.healthFloor);
  const impact = classifyImpact(order.impact, order.notional);
  const drifts = await db.selectFrom('drift_evaluation').select(['metric', 'action', 'id']).where('strategy_id', '=', strategy.id).orderBy('id', 'desc').limit(50).execute();
  const latestPerMetric = [...new Map(drifts.map((d) => [d.metric, d.action] as const).reverse()).values()];
  const drift = latestPerMetric.includes('PAUSE') ? 'PAUSE' : latestPerMetric.includes('REDUCE_SIZE') ? 'REDUCE_SIZE' : 'OK';
  const canary = await db.selectFrom('canary_check_state').select('name').where('last_ok', '=', false).where('consecutive_failures', '>=', CANARY_FAILING_AT).execute();
  const tokenRow = order.tokenId ? await db.selectFrom('execution_token').selectAll().where('id', '=', order.tokenId).executeTakeFirst() : undefined;
  // Tokens live on the wall clock: operators issue them for real minutes.
  const token = strategy.tokenRequired || order.tokenId ? checkToken(tokenRow ? toToken(tokenRow) : undefined, { strategyId: strategy.id, symbol: order.symbol, notional: order.notional, side: order.side }, new Date()) : null;
  const demotion = demotionFor(strategy.level, stats);
  const decision = decideStrategyGate({
    level: strategy.level,
    paused: strategy.paused,
    health,
    impact,
    drift,
    canaryFailing: canary.map((c) => c.name),
    token,
    demotion,
    reduceOnly: isReduceOnly(order.side, order.position, order.notional),
  });
  const outcome: StrategyGateOutcome = {
    enabled: true,
    level: strategy.level,
    decision,
    approvers: decision.execution === 'approval' ? await listApprovers(db) : {},
    kill: decision.action === 'KILL' ? decision.reasons.join('; ') : null,
  };
  await db.transaction().execute(async (trx) => {
    if (decision.action === 'DEMOTE' && demotion) {
      await trx.updateTable('strategy').set({ level: demotion.to, level_since: new Date(order.at), updated_at: new Date() }).where('id', '=', strategy.id).execute();
      await appendAuditEvent(trx, { actor: 'strategy-gate', kind: 'strategy.demoted', subject: `strategy:${strategy.id}`, details: { from: strategy.level, to: demotion.to, reason: demotion.reason, traceId: order.traceId } });
    }
    if (decision.action === 'PAUSE' && !strategy.paused) {
      const reason = decision.reasons.join('; ');
      await trx.updateTable('strategy').set({ paused: true, paused_reason: reason, updated_at: new Date() }).where('id', '=', strategy.id).execute();
      await appendAuditEvent(trx, { actor: 'strategy-gate', kind: 'strategy.paused', subject: `strategy:${strategy.id}`, details: { reason, traceId: order.traceId } });
    }
    if (tokenRow) {
      await appendAuditEvent(trx, { actor: order.strategyId, kind: token?.ok ? 'token.used' : 'token.refused', subject: `token:${tokenRow.id}`, details: { traceId: order.traceId, result: token } });
    }
    await trx
      .insertInto('governance_log')
      .values({
        trace_id: order.traceId,
        strategy_id: strategy.id,
        action: decision.action,
        scores: JSON.stringify({ health: health.score, impactPoints: impact.points, impactTier: impact.tier, level: strategy.level, drift, sizeMultiplier: decision.sizeMultiplier }),
        details: JSON.stringify(outcome),
        duration_ms: performance.now() - started,
      })
      .onConflict((oc) => oc.column('trace_id').doNothing())
      .execute();
  });
  return outcome;
}

export interface OutcomeEffects {
  demotedTo: MaturityLevel | null;
  promotionTo: MaturityLevel | null;
}

/** Trade outcomes feed health, maturity evidence and drift: a demotion happens now; a promotion is proposed. */
export async function recordStrategyOutcome(db: Kysely<Database>, input: { strategyId: string; dealId: string; pnl: number; at: string }): Promise<OutcomeEffects> {
  const strategy = await getStrategy(db, input.strategyId);
  if (!strategy) return { demotedTo: null, promotionTo: null };
  await db
    .insertInto('strategy_outcome')
    .values({ strategy_id: input.strategyId, deal_id: input.dealId, pnl: input.pnl, at: new Date(input.at) })
    .onConflict((oc) => oc.column('deal_id').doNothing())
    .execute();
  // Live win rate against its backtest baseline, when one is stored: the drift detector's input.
  const recent = tradeStats((await pnls(db, strategy.id)).slice(-DRIFT_WINDOW), strategy.capital);
  await evaluateStrategyDrift(db, { strategyId: strategy.id, metric: 'win_rate', liveValue: recent.winRate });
  const stats = tradeStats(await pnls(db, strategy.id, await levelSince(db, strategy.id)), strategy.capital);
  const demotion = demotionFor(strategy.level, stats);
  if (demotion) {
    await db.updateTable('strategy').set({ level: demotion.to, level_since: new Date(input.at), updated_at: new Date() }).where('id', '=', strategy.id).where('level', '=', strategy.level).execute();
    await recordAuditEvent(db, { actor: 'strategy-gate', kind: 'strategy.demoted', subject: `strategy:${strategy.id}`, details: { from: strategy.level, to: demotion.to, reason: demotion.reason, dealId: input.dealId }, idempotencyKey: `demote:${input.dealId}` });
    return { demotedTo: demotion.to, promotionTo: null };
  }
  const promotion = promotionCheck(strategy.level, stats);
  return { demotedTo: null, promotionTo: promotion.eligible ? promotion.to : null };
}

/** Applies an approved promotion if the strategy is still where the proposal found it. */
export async function promoteStrategy(db: Kysely<Database>, input: { strategyId: string; from: MaturityLevel; to: MaturityLevel; approver: string; role: string }): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const moved = await trx.updateTable('strategy').set({ level: input.to, level_since: new Date(), updated_at: new Date() }).where('id', '=', input.strategyId).where('level', '=', input.from).returning('id').execute();
    if (moved.length === 0) return false;
    await appendAuditEvent(trx, { actor: input.approver, kind: 'strategy.promoted', subject: `strategy:${input.strategyId}`, details: { ...input } });
    return true;
  });
}

/** Seed 001's governance log, newest first. */
export async function listGovernanceLog(db: Kysely<Database>, filter: { strategyId?: string; limit?: number } = {}) {
  let query = db.selectFrom('governance_log').selectAll().orderBy('id', 'desc').limit(filter.limit ?? 50);
  if (filter.strategyId !== undefined) query = query.where('strategy_id', '=', filter.strategyId);
  const rows = await query.execute();
  return rows.map((r) => ({ id: String(r.id), traceId: r.trace_id, strategyId: r.strategy_id, action: r.action, scores: r.scores, details: r.details, durationMs: r.duration_ms, at: r.at.toISOString() }));
}
