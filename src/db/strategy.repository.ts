import type { Kysely, Selectable, Transaction } from 'kysely';
import { HEALTH_WINDOW } from '../domain/strategy/gate';
import {
  computeHealth,
  demotionFor,
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
import { pnls } from './strategy-outcomes.repository';
import type { Database, StrategyTable } from './database';
import { type WriteContext, inTransaction } from './transaction';

// Strategy rows, levels, promotion and demotion. Execution tokens live in execution-tokens.repository,
// trade outcomes and the governance log in strategy-outcomes.repository, drift in strategy-drift.repository.

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

export async function listStrategies(db: Db): Promise<Strategy[]> {
  return (await db.selectFrom('strategy').selectAll().orderBy('id').execute()).map(toStrategy);
}

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
 * for an existing strategy a different `level` is refused (StrategyLevelChangeError, naming the field),
 * and a new one starts at L0. Raising goes through an approved strategyPromotion or an approved change
 * request (policy-state.repository), lowering through `demoteStrategy`.
 */
export async function upsertStrategy(
  db: Db,
  s: Strategy,
  actor: string,
  reason: string,
  context: WriteContext = {},
): Promise<Strategy> {
  return inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('strategy').selectAll().where('id', '=', s.id).forUpdate().executeTakeFirst();
    if (before && before.level !== s.level)
      throw new StrategyLevelChangeError(
        `level: ${s.id} is at ${before.level}; its level changes only through promotion (an approved strategyPromotion: warden strategy promote) or demotion (warden strategy demote), not to ${s.level} by an update`,
      );
    if (!before && s.level !== 'L0')
      throw new StrategyLevelChangeError(
        `level: a new strategy starts at L0, not ${s.level}; raise ${s.id} through an approved promotion (warden strategy promote)`,
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
      details: { before: before ? toStrategy(before) : null, after: s, reason, ...context },
    });
    return s;
  });
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
