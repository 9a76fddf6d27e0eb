import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { type DriftEvaluation, type DriftThresholds, evaluateDrift } from '../domain/strategy/drift';
import { HEALTH_WINDOW } from '../domain/strategy/gate';
import {
  computeHealth,
  demotionFor,
  type ExecutionToken,
  MATURITY_LEVELS,
  type MaturityLevel,
  promotionCheck,
  tradeStats,
} from '../domain/strategy/rules';
import { AuditKind } from '../domain/audit/kinds';
import type { ApproverRole } from '../domain/autonomy/phases';
import { ErrorType } from '../domain/shared/errors';
import { promotionProposalId, type RecordedPromotion } from '../domain/strategy/messages';
import { appendAuditEvent } from './audit.repository';
import { recordProposal } from './proposal-records.repository';
import type { Database, StrategyTable } from './database';
import type { StoredOutcomeEffects } from './tables/strategy';

/** How far back the health and maturity evidence reaches. */
const EVIDENCE_TRADES = 500;

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

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

export async function getStrategy(db: Db, id: string): Promise<Strategy | undefined> {
  const row = await db.selectFrom('strategy').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toStrategy(row) : undefined;
}

/**
 * Reads a strategy and holds its row until the transaction ends: decisions
 * about one strategy (gate, outcome) then happen one at a time, each from the
 * level and pause the one before it left.
 */
export async function lockStrategy(trx: Transaction<Database>, id: string): Promise<Strategy | undefined> {
  const row = await trx.selectFrom('strategy').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toStrategy(row) : undefined;
}

/** A write that would move a strategy's level outside promotion (approved) or demotion. */
export class StrategyLevelChangeError extends Error {
  override name = ErrorType.StrategyLevelChangeRefused;
}

/**
 * Opt in (or change) a strategy; every change is audited. The level is not this function's to change:
 * for an existing strategy a different `level` is refused (StrategyLevelChangeError, naming the field);
 * raising goes through an approved strategyPromotion, lowering through `demoteStrategy`. A new row takes
 * the level given: the operator paths (CLI) create at L0; a higher one is for direct seeding only.
 */
export async function upsertStrategy(
  db: Kysely<Database>,
  s: Strategy,
  actor: string,
  reason: string,
): Promise<Strategy> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('strategy').selectAll().where('id', '=', s.id).forUpdate().executeTakeFirst();
    if (before && before.level !== s.level)
      throw new StrategyLevelChangeError(
        `level: ${s.id} is at ${before.level}; its level changes only through promotion (an approved strategyPromotion: warden strategy promote) or demotion (warden strategy demote), not to ${s.level} by an update`,
      );
    const values = {
      enabled: s.enabled,
      level: s.level,
      paused: s.paused,
      paused_reason: s.pausedReason,
      capital: s.capital,
      token_required: s.tokenRequired,
      health_floor: s.healthFloor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('strategy')
      .values({ id: s.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.strategy.changed,
      subject: `strategy:${s.id}`,
      details: { before: before ? toStrategy(before) : null, after: s, reason },
    });
    return s;
  });
}

/** P&L oldest first; `since` limits it to the current level's record (maturity evidence), none for health. */
export async function pnls(db: Db, strategyId: string, since?: Date): Promise<number[]> {
  let q = db
    .selectFrom('strategy_outcome')
    .select('pnl')
    .where('strategy_id', '=', strategyId)
    .orderBy('id', 'desc')
    .limit(EVIDENCE_TRADES);
  if (since) q = q.where('at', '>=', since);
  return (await q.execute()).map((r) => r.pnl).reverse();
}

export async function levelSince(db: Db, strategyId: string): Promise<Date> {
  return (await db.selectFrom('strategy').select('level_since').where('id', '=', strategyId).executeTakeFirstOrThrow())
    .level_since;
}

export async function strategyReport(db: Kysely<Database>, id: string) {
  const strategy = await getStrategy(db, id);
  if (!strategy) return undefined;
  const stats = tradeStats(await pnls(db, id, await levelSince(db, id)), strategy.capital);
  return {
    strategy,
    stats,
    health: computeHealth(await pnls(db, id), HEALTH_WINDOW, strategy.healthFloor),
    promotion: promotionCheck(strategy.level, stats),
    demotion: demotionFor(strategy.level, stats) ?? null,
  };
}

export function toToken(
  r: Selectable<Database['execution_token']>,
): ExecutionToken & { traceId: string; issuedBy: string } {
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
  input: {
    strategyId: string;
    symbols: string[];
    maxNotional: number;
    actions: ('buy' | 'sell')[];
    ttlSeconds: number;
    traceId?: string;
    actor: string;
  },
) {
  const id = randomUUID();
  const expires = new Date(Date.now() + input.ttlSeconds * 1000);
  const traceId = input.traceId ?? randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('execution_token')
      .values({
        id,
        strategy_id: input.strategyId,
        symbols: JSON.stringify(input.symbols),
        max_notional: input.maxNotional,
        actions: JSON.stringify(input.actions),
        trace_id: traceId,
        issued_by: input.actor,
        expires_at: expires,
        revoked_at: null,
        revoked_by: null,
      })
      .execute();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.token.issued,
      subject: `strategy:${input.strategyId}`,
      details: {
        tokenId: id,
        traceId,
        symbols: input.symbols,
        maxNotional: input.maxNotional,
        actions: input.actions,
        expiresAt: expires.toISOString(),
      },
    });
  });
  return toToken(await db.selectFrom('execution_token').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** Revokes one token, or every live token of a strategy. Returns how many. */
export async function revokeTokens(
  db: Kysely<Database>,
  target: { tokenId: string } | { strategyId: string },
  actor: string,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let q = trx
      .updateTable('execution_token')
      .set({ revoked_at: new Date(), revoked_by: actor })
      .where('revoked_at', 'is', null);
    q = 'tokenId' in target ? q.where('id', '=', target.tokenId) : q.where('strategy_id', '=', target.strategyId);
    const rows = await q.returning('id').execute();
    if (rows.length > 0)
      await appendAuditEvent(trx, {
        actor,
        kind: AuditKind.token.revoked,
        subject: 'tokenId' in target ? `token:${target.tokenId}` : `strategy:${target.strategyId}`,
        details: { tokens: rows.map((r) => r.id) },
      });
    return rows.length;
  });
}

export async function listTokens(db: Kysely<Database>, strategyId?: string) {
  let q = db.selectFrom('execution_token').selectAll().orderBy('issued_at', 'desc').limit(100);
  if (strategyId) q = q.where('strategy_id', '=', strategyId);
  return (await q.execute()).map(toToken);
}

/** The outcome a trace id was decided with, if it was (a retry's answer). */
export async function findGovernanceDecision(db: Db, traceId: string): Promise<unknown> {
  const prior = await db
    .selectFrom('governance_log')
    .select(['details'])
    .where('trace_id', '=', traceId)
    .executeTakeFirst();
  return prior?.details;
}

/** The latest drift evaluations of a strategy, newest first. */
export async function recentDriftActions(db: Db, strategyId: string): Promise<{ metric: string; action: string }[]> {
  return db
    .selectFrom('drift_evaluation')
    .select(['metric', 'action', 'id'])
    .where('strategy_id', '=', strategyId)
    .orderBy('id', 'desc')
    .limit(50)
    .execute();
}

/** Canary checks failing now, at least `threshold` times in a row. */
export async function failingCanaryChecks(db: Db, threshold: number): Promise<string[]> {
  const rows = await db
    .selectFrom('canary_check_state')
    .select('name')
    .where('last_ok', '=', false)
    .where('consecutive_failures', '>=', threshold)
    .execute();
  return rows.map((r) => r.name);
}

export async function findToken(db: Db, tokenId: string) {
  const row = await db.selectFrom('execution_token').selectAll().where('id', '=', tokenId).executeTakeFirst();
  return row && toToken(row);
}

/** Moves a strategy's level; with `from`, only if it is still there. True when it moved. */
export async function setStrategyLevel(
  db: Db,
  input: { id: string; to: MaturityLevel; since: Date; from?: MaturityLevel },
): Promise<boolean> {
  let query = db
    .updateTable('strategy')
    .set({ level: input.to, level_since: input.since, updated_at: new Date() })
    .where('id', '=', input.id);
  if (input.from !== undefined) query = query.where('level', '=', input.from);
  return (await query.returning('id').execute()).length > 0;
}

/** Pauses a running strategy. True when it was running and is now paused. */
export async function pauseStrategy(db: Db, id: string, reason: string): Promise<boolean> {
  const rows = await db
    .updateTable('strategy')
    .set({ paused: true, paused_reason: reason, updated_at: new Date() })
    .where('id', '=', id)
    .where('paused', '=', false)
    .returning('id')
    .execute();
  return rows.length > 0;
}

export async function insertGovernanceLog(
  db: Db,
  entry: {
    traceId: string;
    strategyId: string;
    action: string;
    scores: Record<string, unknown>;
    details: unknown;
    durationMs: number;
  },
): Promise<void> {
  await db
    .insertInto('governance_log')
    .values({
      trace_id: entry.traceId,
      strategy_id: entry.strategyId,
      action: entry.action,
      scores: JSON.stringify(entry.scores),
      details: JSON.stringify(entry.details),
      duration_ms: entry.durationMs,
    })
    .onConflict((oc) => oc.column('trace_id').doNothing())
    .execute();
}

/** One trade outcome; a deal's outcome is stored once. True when this call stored it. */
export async function insertStrategyOutcome(
  db: Db,
  input: { strategyId: string; dealId: string; pnl: number; at: string },
): Promise<boolean> {
  const row = await db
    .insertInto('strategy_outcome')
    .values({ strategy_id: input.strategyId, deal_id: input.dealId, pnl: input.pnl, at: new Date(input.at) })
    .onConflict((oc) => oc.column('deal_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** What recording a deal's outcome answered; null for an outcome stored before answers were kept. */
export async function readOutcomeEffects(db: Db, dealId: string): Promise<StoredOutcomeEffects | null> {
  const row = await db
    .selectFrom('strategy_outcome')
    .select('effects')
    .where('deal_id', '=', dealId)
    .executeTakeFirstOrThrow();
  return row.effects;
}

/** Keeps what recording a deal's outcome answered, for its retries. */
export async function storeOutcomeEffects(db: Db, dealId: string, effects: StoredOutcomeEffects): Promise<void> {
  await db
    .updateTable('strategy_outcome')
    .set({ effects: JSON.stringify(effects) })
    .where('deal_id', '=', dealId)
    .execute();
}

/** Seed 001's governance log, newest first. */
export async function listGovernanceLog(db: Kysely<Database>, filter: { strategyId?: string; limit?: number } = {}) {
  let query = db
    .selectFrom('governance_log')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 50);
  if (filter.strategyId !== undefined) query = query.where('strategy_id', '=', filter.strategyId);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: String(r.id),
    traceId: r.trace_id,
    strategyId: r.strategy_id,
    action: r.action,
    scores: r.scores,
    details: r.details,
    durationMs: r.duration_ms,
    at: r.at.toISOString(),
  }));
}

export async function setDriftBaseline(
  db: Kysely<Database>,
  input: { strategyId: string; metric: string; baselineValue: number; actor: string },
): Promise<void> {
  const values = { baseline_value: input.baselineValue, updated_by: input.actor, updated_at: new Date() };
  await db
    .insertInto('drift_baseline')
    .values({ strategy_id: input.strategyId, metric: input.metric, ...values })
    .onConflict((oc) => oc.columns(['strategy_id', 'metric']).doUpdateSet(values))
    .execute();
}

/** Live metric against the stored backtest baseline; the evaluation is kept. Undefined without a baseline. */
export async function evaluateStrategyDrift(
  db: Db,
  input: { strategyId: string; metric: string; liveValue: number; thresholds?: DriftThresholds },
): Promise<(DriftEvaluation & { baselineValue: number }) | undefined> {
  const baseline = await db
    .selectFrom('drift_baseline')
    .selectAll()
    .where('strategy_id', '=', input.strategyId)
    .where('metric', '=', input.metric)
    .executeTakeFirst();
  if (!baseline) return undefined;
  const evaluation = evaluateDrift(baseline.baseline_value, input.liveValue, input.thresholds);
  await db
    .insertInto('drift_evaluation')
    .values({
      strategy_id: input.strategyId,
      metric: input.metric,
      baseline_value: baseline.baseline_value,
      live_value: input.liveValue,
      deviation: Number.isFinite(evaluation.deviation) ? evaluation.deviation : 1e308,
      action: evaluation.action,
    })
    .execute();
  return { ...evaluation, baselineValue: baseline.baseline_value };
}

/** Warden's record of a promotion, keyed by its workflow id; an open one is left as it is. True when written. */
export function recordPromotion(db: Kysely<Database>, terms: RecordedPromotion): Promise<boolean> {
  return recordProposal(db, {
    id: promotionProposalId(terms.strategyId, terms.to),
    kind: 'promotion',
    subject: terms.strategyId,
    from: terms.from,
    to: terms.to,
    terms: { ...terms },
    requestedBy: terms.requestedBy,
  });
}

/**
 * An operator's promotion proposal: one level up from where the strategy is, with its evidence at this
 * level attached. The requester must be on the approver allowlist for `role`, and may not approve it.
 * The strategyPromotion workflow (started by the caller with the returned id) decides; nothing moves here.
 */
export async function proposePromotion(
  db: Kysely<Database>,
  input: { strategyId: string; requestedBy: string; role: ApproverRole; reason: string; expiresInDays?: number },
  allowlist: Record<string, string[]>,
): Promise<{ proposalId: string; terms: RecordedPromotion }> {
  if (!(allowlist[input.role] ?? []).includes(input.requestedBy))
    throw new StrategyLevelChangeError(`role: ${input.requestedBy} is not on the allowlist for ${input.role}`);
  const report = await strategyReport(db, input.strategyId);
  if (!report) throw new StrategyLevelChangeError(`id: strategy ${input.strategyId} has not opted in`);
  const from = report.strategy.level;
  const to = MATURITY_LEVELS[MATURITY_LEVELS.indexOf(from) + 1];
  if (!to) throw new StrategyLevelChangeError(`level: ${input.strategyId} is at ${from}, the top of the ladder`);
  const terms: RecordedPromotion = {
    strategyId: input.strategyId,
    from,
    to,
    evidence: {
      ...report.stats,
      profitFactor: String(report.stats.profitFactor),
      eligible: report.promotion.eligible,
      reason: input.reason,
    },
    expiresInDays: input.expiresInDays ?? 7,
    requestedBy: input.requestedBy,
  };
  const proposalId = promotionProposalId(input.strategyId, to);
  if (!(await recordPromotion(db, terms)))
    throw new StrategyLevelChangeError(
      `level: a promotion of ${input.strategyId} to ${to} is already open (${proposalId})`,
    );
  return { proposalId, terms };
}

/**
 * Lowers a strategy's level at once (tightening needs nobody's approval), audited. Refused, naming the
 * field, when `to` is not below the current level: raising goes through an approved promotion.
 */
export async function demoteStrategy(
  db: Kysely<Database>,
  input: { id: string; to: MaturityLevel; actor: string; reason: string },
): Promise<Strategy> {
  return db.transaction().execute(async (trx) => {
    const current = await lockStrategy(trx, input.id);
    if (!current) throw new StrategyLevelChangeError(`id: strategy ${input.id} has not opted in`);
    if (MATURITY_LEVELS.indexOf(input.to) >= MATURITY_LEVELS.indexOf(current.level))
      throw new StrategyLevelChangeError(
        `level: demotion goes down; ${input.id} is at ${current.level}, so ${input.to} is not a demotion (raise it with warden strategy promote)`,
      );
    await setStrategyLevel(trx, { id: input.id, to: input.to, since: new Date(), from: current.level });
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.strategy.demoted,
      subject: `strategy:${input.id}`,
      details: { from: current.level, to: input.to, reason: input.reason, by: 'operator' },
    });
    return { ...current, level: input.to };
  });
}
