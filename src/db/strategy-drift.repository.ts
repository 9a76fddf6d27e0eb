import type { Kysely, Transaction } from 'kysely';
import { type DriftEvaluation, type DriftThresholds, evaluateDrift } from '../domain/strategy/drift';
import type { Database } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

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
