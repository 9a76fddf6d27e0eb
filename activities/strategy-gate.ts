import type { Kysely } from 'kysely';
import type { WardenClient } from '../src/client';
import type { Database } from '../src/db/database';
import { listApprovers } from '../src/db/autonomy.repository';
import { evaluateStrategyOrder, promoteStrategy, recordStrategyOutcome, strategyReport, type StrategyOrder } from '../src/db/strategy.repository';
import type { MaturityLevel } from '../src/domain/strategy/rules';

export interface StrategyGateDeps {
  db: Kysely<Database>;
  controlPlane: Pick<WardenClient, 'engageKillSwitch'>;
}

export function createStrategyGateActivities({ db, controlPlane }: StrategyGateDeps) {
  return {
    /** The strategy gate for one order; a KILL verdict engages the kill switch from here. */
    async evaluateStrategyGate(order: StrategyOrder) {
      const outcome = await evaluateStrategyOrder(db, order);
      if (outcome.enabled && outcome.kill) {
        await controlPlane.engageKillSwitch({ source: 'strategy-gate', actor: 'strategy-gate', reason: `${order.strategyId}: ${outcome.kill}` });
      }
      return outcome;
    },
    /** The outcome, and — when the evidence now earns it — the terms of a promotion proposal. */
    async recordStrategyOutcome(input: { strategyId: string; dealId: string; pnl: number; at: string }) {
      const effects = await recordStrategyOutcome(db, input);
      const report = effects.promotionTo ? await strategyReport(db, input.strategyId) : undefined;
      return {
        ...effects,
        promotion:
          effects.promotionTo && report
            ? { strategyId: input.strategyId, from: report.strategy.level, to: effects.promotionTo, evidence: { ...report.stats, profitFactor: String(report.stats.profitFactor) }, approvers: await listApprovers(db) }
            : null,
      };
    },
    promoteStrategy: (input: { strategyId: string; from: MaturityLevel; to: MaturityLevel; approver: string; role: string }) => promoteStrategy(db, input),
  };
}

export type StrategyGateActivities = ReturnType<typeof createStrategyGateActivities>;
