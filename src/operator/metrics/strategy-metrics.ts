import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { sql } from 'kysely';
import { dbGauges, dbHistogram } from './db-gauge';
import type { Database } from '../../db/database';
import { computeHealth, MATURITY_LEVELS } from '../../domain/strategy/rules';

const PREFIX = 'warden_strategy_governance_';

/** Seed 001's ~10 series for the strategy gate, read from the database at each scrape. */
export function registerStrategyMetrics(registry: Registry, db: Kysely<Database>): void {
  const gauge = dbGauges(registry, PREFIX);
  gauge('decisions_total', 'Gate decisions by action', ['action'], async (g) => {
    const rows = await db
      .selectFrom('governance_log')
      .select(['action', db.fn.countAll<string>().as('n')])
      .groupBy('action')
      .execute();
    for (const r of rows) g.set({ action: r.action }, Number(r.n));
  });
  gauge(
    'blocks_total',
    'Orders the gate stopped (BLOCK, DEMOTE, PAUSE, KILL) per strategy',
    ['strategy'],
    async (g) => {
      const rows = await db
        .selectFrom('governance_log')
        .select(['strategy_id', db.fn.countAll<string>().as('n')])
        .where('action', 'in', ['BLOCK', 'DEMOTE', 'PAUSE', 'KILL'])
        .groupBy('strategy_id')
        .execute();
      for (const r of rows) g.set({ strategy: r.strategy_id }, Number(r.n));
    },
  );
  gauge('maturity_level', 'Maturity level per strategy (0 = L0 … 4 = L4)', ['strategy'], async (g) => {
    for (const s of await db.selectFrom('strategy').select(['id', 'level']).execute())
      g.set({ strategy: s.id }, MATURITY_LEVELS.indexOf(s.level));
  });
  gauge('strategy_paused', 'Strategy paused (1) or not (0)', ['strategy'], async (g) => {
    for (const s of await db.selectFrom('strategy').select(['id', 'paused']).execute())
      g.set({ strategy: s.id }, s.paused ? 1 : 0);
  });
  gauge('health_score', 'Health score per strategy (0-1)', ['strategy'], async (g) => {
    for (const s of await db.selectFrom('strategy').select('id').execute()) {
      const rows = await db
        .selectFrom('strategy_outcome')
        .select('pnl')
        .where('strategy_id', '=', s.id)
        .orderBy('id', 'desc')
        .limit(20)
        .execute();
      g.set({ strategy: s.id }, computeHealth(rows.map((r) => r.pnl).reverse()).score);
    }
  });
  gauge('drift_deviation', 'Latest live-vs-backtest deviation', ['strategy', 'metric'], async (g) => {
    const rows = await db
      .selectFrom('drift_evaluation')
      .select(['strategy_id', 'metric', 'deviation'])
      .orderBy('id', 'desc')
      .limit(200)
      .execute();
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(`${r.strategy_id}/${r.metric}`)) continue;
      seen.add(`${r.strategy_id}/${r.metric}`);
      g.set({ strategy: r.strategy_id, metric: r.metric }, r.deviation);
    }
  });
  gauge('canary_status', 'Canary check healthy (1) or failing (0)', ['check'], async (g) => {
    for (const c of await db.selectFrom('canary_check_state').select(['name', 'last_ok']).execute())
      g.set({ check: c.name }, c.last_ok ? 1 : 0);
  });
  gauge('gate_latency_ms', 'Gate decision time over the last 1,000 decisions', ['quantile'], async (g) => {
    const rows = await db
      .selectFrom('governance_log')
      .select('duration_ms')
      .orderBy('id', 'desc')
      .limit(1000)
      .execute();
    const sorted = rows.map((r) => r.duration_ms).sort((a, b) => a - b);
    if (sorted.length === 0) return;
    for (const q of [0.5, 0.99])
      g.set({ quantile: String(q) }, sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  });
  // The same decisions as a histogram (every one recorded), so latency aggregates across processes and time.
  dbHistogram(
    registry,
    {
      name: `${PREFIX}gate_latency_seconds`,
      help: 'Gate decision time, every decision recorded',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    },
    async (buckets) => {
      const row = await db
        .selectFrom('governance_log')
        .select([
          ...buckets.map((le, i) => sql<string>`count(*) filter (where duration_ms <= ${le * 1000})`.as(`b${i}`)),
          sql<string>`coalesce(sum(duration_ms), 0) / 1000.0`.as('sum'),
          db.fn.countAll<string>().as('count'),
        ])
        .executeTakeFirstOrThrow();
      const counts = row as unknown as Record<string, string>;
      return {
        atOrUnder: buckets.map((_, i) => Number(counts[`b${i}`])),
        sum: Number(row.sum),
        count: Number(row.count),
      };
    },
  );
  gauge('active_tokens', 'Execution tokens neither expired nor revoked', [], async (g) => {
    const row = await db
      .selectFrom('execution_token')
      .select(db.fn.countAll<string>().as('n'))
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .executeTakeFirstOrThrow();
    g.set(Number(row.n));
  });
}
