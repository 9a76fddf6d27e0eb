import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../src/db/database';
import { appendAuditEvent } from '../src/db/audit.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import { listApprovers } from '../src/db/autonomy.repository';
import { closeProposalRecord } from '../src/db/proposal-records.repository';
import { checkLevelStillFrom } from '../src/domain/strategy/messages';
import { readPosition } from '../src/db/positions.repository';
import { evaluateStrategyDrift, recentDriftActions } from '../src/db/strategy-drift.repository';
import { failingCanaryChecks } from '../src/db/watchdogs.repository';
import {
  findGovernanceDecision,
  insertGovernanceLog,
  insertStrategyOutcome,
  pnls,
  readOutcomeEffects,
  storeOutcomeEffects,
} from '../src/db/strategy-outcomes.repository';
import { findToken } from '../src/db/execution-tokens.repository';
import {
  levelSince,
  lockStrategy,
  pauseStrategy,
  recordPromotion,
  setStrategyLevel,
} from '../src/db/strategy.repository';
import type { StoredOutcomeEffects } from '../src/db/tables/strategy';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import type { StrategyGateActivities, StrategyOutcomeInput } from '../src/domain/strategy/activities';
import {
  CANARY_FAILING_AT,
  DRIFT_WINDOW,
  driftVerdict,
  HEALTH_WINDOW,
  type StrategyGateOutcome,
  type StrategyOrder,
} from '../src/domain/strategy/gate';
import {
  checkToken,
  classifyImpact,
  computeHealth,
  decideStrategyGate,
  demotionFor,
  isReduceOnly,
  promotionCheck,
  tradeStats,
} from '../src/domain/strategy/rules';

export interface StrategyGateDeps {
  db: Kysely<Database>;
  controlPlane: Pick<ControlPlanePort, 'engageKillSwitch'>;
}

export function createStrategyGateActivities({ db, controlPlane }: StrategyGateDeps): StrategyGateActivities {
  return {
    /** The strategy gate for one order; a KILL verdict engages the kill switch from here. */
    async evaluateStrategyGate(order) {
      const outcome = await db.transaction().execute((trx) => evaluateStrategyOrder(trx, order));
      await engageOnKill(controlPlane, order, outcome);
      return outcome;
    },
    /** The outcome, and — when the evidence now earns it — the terms of a promotion proposal. */
    async recordStrategyOutcome(input) {
      const recorded = await recordStrategyOutcome(db, input);
      if (!recorded) return { demotedTo: null, promotionTo: null, promotion: null };
      const { demotedTo, promotionTo, level, evidence } = recorded;
      if (!promotionTo || !evidence) return { demotedTo, promotionTo, promotion: null };
      // Warden's own record of the promotion, keyed by its workflow id: strategyPromotion loads its terms
      // from here (an open one is left as it is: a retry, or the next trade earning the same level).
      await recordPromotion(db, {
        strategyId: input.strategyId,
        from: level,
        to: promotionTo,
        evidence,
        expiresInDays: 7,
        requestedBy: 'strategy-gate',
      });
      return {
        demotedTo,
        promotionTo,
        // The approvers are shown for old histories' children; new ones read the approver table per decision.
        promotion: {
          strategyId: input.strategyId,
          from: level,
          to: promotionTo,
          evidence,
          approvers: await listApprovers(db),
        },
      };
    },
    /**
     * Applies an approved promotion if the strategy is still where the proposal found it, one level up.
     * Read → decide → write + audit, one transaction holding the strategy's row; with a proposal id,
     * Warden's record closes with the outcome and a stale promotion is audited.
     */
    async promoteStrategy(input) {
      return db.transaction().execute(async (trx) => {
        const current = await lockStrategy(trx, input.strategyId);
        const check = checkLevelStillFrom(current?.level, input.from, input.to);
        const moved =
          check.ok &&
          (await setStrategyLevel(trx, { id: input.strategyId, to: input.to, since: new Date(), from: input.from }));
        if (input.proposalId !== undefined) {
          await closeProposalRecord(trx, input.proposalId, moved ? 'promoted' : 'stale');
          if (!moved)
            await appendAuditEvent(trx, {
              actor: input.approver,
              kind: AuditKind.strategy.promotionStale,
              subject: `strategy:${input.strategyId}`,
              details: { ...input, level: current?.level ?? null, reason: check.ok ? 'level moved' : check.reason },
            });
        }
        if (!moved) return false;
        await appendAuditEvent(trx, {
          actor: input.approver,
          kind: AuditKind.strategy.promoted,
          subject: `strategy:${input.strategyId}`,
          details: { ...input },
        });
        return true;
      });
    },
  };
}

/**
 * Seed 001's GovernanceGate for one order: every component votes, the most
 * restrictive wins, and its side effects happen here (DEMOTE demotes, PAUSE
 * pauses the strategy); a KILL is returned for the caller to engage. One
 * transaction holding the strategy's row: read → decide → write + audit, so a
 * retry or a concurrent attempt of the trace id finds the first decision, and
 * a demotion or pause is applied once, from the level it was decided from.
 * One governance log row per decision, keyed by the trace id. In the caller's transaction: the gate's
 * own, or a deal's admission (which then clears the order it lets go on at once).
 */
/** A KILL verdict engages the kill switch, once the gate's transaction committed. */
export async function engageOnKill(
  controlPlane: Pick<ControlPlanePort, 'engageKillSwitch'>,
  order: StrategyOrder,
  outcome: StrategyGateOutcome,
): Promise<void> {
  if (outcome.enabled && outcome.kill)
    await controlPlane.engageKillSwitch({
      source: 'strategy-gate',
      actor: 'strategy-gate',
      reason: `${order.strategyId}: ${outcome.kill}`,
    });
}

export async function evaluateStrategyOrder(
  trx: Transaction<Database>,
  order: StrategyOrder,
): Promise<StrategyGateOutcome> {
  const started = performance.now();
  const strategy = await lockStrategy(trx, order.strategyId);
  const prior = await findGovernanceDecision(trx, order.traceId);
  if (prior) return prior as StrategyGateOutcome;
  if (!strategy || !strategy.enabled) return { enabled: false };

  const stats = tradeStats(await pnls(trx, strategy.id, await levelSince(trx, strategy.id)), strategy.capital);
  const health = computeHealth(await pnls(trx, strategy.id), HEALTH_WINDOW, strategy.healthFloor);
  const impact = classifyImpact(order.impact, order.notional);
  const drift = driftVerdict(await recentDriftActions(trx, strategy.id));
  const canaryFailing = await failingCanaryChecks(trx, CANARY_FAILING_AT);
  const tokenRow = order.tokenId ? await findToken(trx, order.tokenId) : undefined;
  // Tokens live on the wall clock: operators issue them for real minutes.
  const token =
    strategy.tokenRequired || order.tokenId
      ? checkToken(
          tokenRow,
          { strategyId: strategy.id, symbol: order.symbol, notional: order.notional, side: order.side },
          new Date(),
        )
      : null;
  const demotion = demotionFor(strategy.level, stats);
  const decision = decideStrategyGate({
    level: strategy.level,
    paused: strategy.paused,
    health,
    impact,
    drift,
    canaryFailing,
    token,
    demotion,
    // Warden's own position, never the order's claimed `position` (ignored: kept for old callers).
    reduceOnly: isReduceOnly(
      order.side,
      await readPosition(trx, { scope: 'strategy', scopeId: strategy.id, symbol: order.symbol }),
      order.notional,
    ),
  });
  const outcome: StrategyGateOutcome = {
    enabled: true,
    level: strategy.level,
    decision,
    approvers: decision.execution === 'approval' ? await listApprovers(trx) : {},
    kill: decision.action === 'KILL' ? decision.reasons.join('; ') : null,
  };
  if (
    decision.action === 'DEMOTE' &&
    demotion &&
    (await setStrategyLevel(trx, {
      id: strategy.id,
      to: demotion.to,
      since: new Date(order.at),
      from: strategy.level,
    }))
  ) {
    await appendAuditEvent(trx, {
      actor: 'strategy-gate',
      kind: AuditKind.strategy.demoted,
      subject: `strategy:${strategy.id}`,
      details: { from: strategy.level, to: demotion.to, reason: demotion.reason, traceId: order.traceId },
    });
  }
  const pauseReason = decision.reasons.join('; ');
  if (decision.action === 'PAUSE' && (await pauseStrategy(trx, strategy.id, pauseReason))) {
    await appendAuditEvent(trx, {
      actor: 'strategy-gate',
      kind: AuditKind.strategy.paused,
      subject: `strategy:${strategy.id}`,
      details: { reason: pauseReason, traceId: order.traceId },
    });
  }
  if (tokenRow) {
    await appendAuditEvent(trx, {
      actor: order.strategyId,
      kind: token?.ok ? AuditKind.token.used : AuditKind.token.refused,
      subject: `token:${tokenRow.id}`,
      details: { traceId: order.traceId, result: token },
    });
  }
  await insertGovernanceLog(trx, {
    traceId: order.traceId,
    strategyId: strategy.id,
    action: decision.action,
    scores: {
      health: health.score,
      impactPoints: impact.points,
      impactTier: impact.tier,
      level: strategy.level,
      drift,
      sizeMultiplier: decision.sizeMultiplier,
    },
    details: outcome,
    durationMs: performance.now() - started,
  });
  return outcome;
}

/**
 * Trade outcomes feed health, maturity evidence and drift: a demotion happens
 * now; a promotion is proposed. One transaction holding the strategy's row:
 * the outcome, the drift evaluation, the demotion with its audit and the
 * answer are stored together, and a retry of the deal answers what the first
 * attempt did. Undefined for a strategy that does not exist.
 */
async function recordStrategyOutcome(
  db: Kysely<Database>,
  input: StrategyOutcomeInput,
): Promise<StoredOutcomeEffects | undefined> {
  return db.transaction().execute(async (trx) => {
    const strategy = await lockStrategy(trx, input.strategyId);
    if (!strategy) return undefined;
    if (!(await insertStrategyOutcome(trx, input)))
      return (
        (await readOutcomeEffects(trx, input.dealId)) ?? {
          demotedTo: null,
          promotionTo: null,
          level: strategy.level,
          evidence: null,
        }
      );
    // Live win rate against its backtest baseline, when one is stored: the drift detector's input.
    const recent = tradeStats((await pnls(trx, strategy.id)).slice(-DRIFT_WINDOW), strategy.capital);
    await evaluateStrategyDrift(trx, { strategyId: strategy.id, metric: 'win_rate', liveValue: recent.winRate });
    const stats = tradeStats(await pnls(trx, strategy.id, await levelSince(trx, strategy.id)), strategy.capital);
    const demotion = demotionFor(strategy.level, stats);
    const demoted =
      demotion !== undefined &&
      (await setStrategyLevel(trx, {
        id: strategy.id,
        to: demotion.to,
        since: new Date(input.at),
        from: strategy.level,
      }));
    if (demotion && demoted)
      await appendAuditEvent(trx, {
        actor: 'strategy-gate',
        kind: AuditKind.strategy.demoted,
        subject: `strategy:${strategy.id}`,
        details: { from: strategy.level, to: demotion.to, reason: demotion.reason, dealId: input.dealId },
        idempotencyKey: `demote:${input.dealId}`,
      });
    const promotion = demotion ? undefined : promotionCheck(strategy.level, stats);
    const effects: StoredOutcomeEffects = {
      demotedTo: demotion && demoted ? demotion.to : null,
      promotionTo: promotion?.eligible ? promotion.to : null,
      level: strategy.level,
      evidence: promotion?.eligible ? { ...stats, profitFactor: String(stats.profitFactor) } : null,
    };
    await storeOutcomeEffects(trx, input.dealId, effects);
    return effects;
  });
}
