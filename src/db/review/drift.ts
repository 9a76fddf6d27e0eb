import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { AuditKind } from '../../domain/audit/kinds';
import { utcDay } from '../../domain/risk/rules';
import { policyId } from '../../domain/watchdogs/tripwire';
import type { Database } from '../database';
import { auditListed, count, type Listed, readDetails, type ReviewPeriod } from './shared';

/** What drifted, as the tables hold it (the strategies' health is read through the strategy repository). */
export interface ReviewDrift {
  tripwires: {
    policy: string;
    baseline: number | null;
    current: number | null;
    dropFraction: number | null;
    triggeredAt: string | null;
  }[];
  strategyDrift: {
    strategyId: string;
    metric: string;
    evaluations: number;
    worst: 'REDUCE_SIZE' | 'PAUSE';
    maxDeviation: number;
    lastAt: string;
  }[];
  strategyChanges: Listed<{ at: string; strategyId: string; change: 'demoted' | 'paused'; reason: string | null }>;
  scorecards: {
    domain: string;
    trials: number;
    successes: number;
    successRate: number | null;
    minSuccessRate: number;
    belowTarget: boolean;
  }[];
}

// Audit details are JSON written by several writers; read only what is needed, tolerantly.
const StrategyChangeDetails = z.object({ reason: z.string().nullish() }).partial();

/** What drifted: fired tripwires, strategy drift and changes, prod-eligibility scorecards against their target. */
export async function reviewDrift(db: Kysely<Database>, period: ReviewPeriod): Promise<ReviewDrift> {
  const { since, until } = period;
  const [tripwires, drift, scorecards] = await Promise.all([
    db
      .selectFrom('regression_state')
      .selectAll()
      .where('triggered', '=', true)
      .orderBy('domain')
      .orderBy('metric')
      .execute(),
    db
      .selectFrom('drift_evaluation')
      .select([
        'strategy_id',
        'metric',
        db.fn.countAll<string>().as('n'),
        sql<boolean>`bool_or(action = 'PAUSE')`.as('paused'),
        db.fn.max('deviation').as('max_deviation'),
        db.fn.max('at').as('last_at'),
      ])
      .where('action', '!=', 'OK')
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy(['strategy_id', 'metric'])
      .orderBy('strategy_id')
      .orderBy('metric')
      .execute(),
    db
      .selectFrom('heimdall_policy as p')
      .leftJoin('heimdall_scorecard_day as s', (join) =>
        join.onRef('s.domain', '=', 'p.domain').on('s.day', '>=', utcDay(since)).on('s.day', '<=', utcDay(until)),
      )
      .select([
        'p.domain',
        'p.min_sandbox_success_rate',
        sql<string>`coalesce(sum(s.trials), 0)`.as('trials'),
        sql<string>`coalesce(sum(s.successes), 0)`.as('successes'),
      ])
      .groupBy(['p.domain', 'p.min_sandbox_success_rate'])
      .orderBy('p.domain')
      .execute(),
  ]);
  return {
    tripwires: tripwires.map((t) => ({
      policy: policyId(t),
      baseline: t.baseline,
      current: t.current,
      dropFraction: t.drop_fraction,
      triggeredAt: t.triggered_at?.toISOString() ?? null,
    })),
    strategyDrift: drift.map((d) => ({
      strategyId: d.strategy_id,
      metric: d.metric,
      evaluations: count(d.n),
      worst: d.paused ? 'PAUSE' : 'REDUCE_SIZE',
      maxDeviation: Number(d.max_deviation),
      lastAt: new Date(d.last_at).toISOString(),
    })),
    strategyChanges: await auditListed(db, period, [AuditKind.strategy.demoted, AuditKind.strategy.paused], (r) => ({
      at: r.at.toISOString(),
      strategyId: r.subject.replace(/^strategy:/, ''),
      change: r.kind === AuditKind.strategy.demoted ? 'demoted' : 'paused',
      reason: readDetails(StrategyChangeDetails, r.details).reason ?? null,
    })),
    scorecards: scorecards.map((s) => {
      const trials = count(s.trials);
      const successes = count(s.successes);
      const successRate = trials === 0 ? null : successes / trials;
      return {
        domain: s.domain,
        trials,
        successes,
        successRate,
        minSuccessRate: s.min_sandbox_success_rate,
        belowTarget: successRate !== null && successRate < s.min_sandbox_success_rate,
      };
    }),
  };
}

/** The ids of the enabled strategies, in order: the review reads each one's health through the strategy repository. */
export async function listEnabledStrategyIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('strategy').select('id').where('enabled', '=', true).orderBy('id').execute();
  return rows.map((r) => r.id);
}
