import { type Kysely, sql } from 'kysely';
import type { Registry } from 'prom-client';
import type { Database } from '../../db/database';
import { dbGauges } from './db-gauge';

const PREFIX = 'quantum_govern_'; // seed 003's names, so its proof scripts grep the same series
const HOUR_MS = 3_600_000;
const BURST_WINDOW_MS = 300_000;
/** The disarm reason the permit gate records; always present, so an alert sees its first increase. */
const BURST_DISARM = 'burst_limit_breach';

/** Seed 003's execution governor: permits (allow), blocks, disarms and the per-symbol windows. */
export function registerGovernorMetrics(registry: Registry, db: Kysely<Database>): void {
  const gauge = dbGauges(registry, PREFIX);
  gauge('allow_total', 'Execution permits issued, per symbol', ['symbol'], async (g) => {
    const rows = await db
      .selectFrom('execution_permit')
      .select(['symbol', db.fn.countAll<string>().as('n')])
      .groupBy('symbol')
      .execute();
    for (const r of rows) g.set({ symbol: r.symbol }, Number(r.n));
  });
  gauge('block_total', 'Plans the governor blocked, per symbol and reason', ['symbol', 'reason'], async (g) => {
    const rows = await db
      .selectFrom('permit_block')
      .select(['symbol', 'reason', db.fn.countAll<string>().as('n')])
      .groupBy(['symbol', 'reason'])
      .execute();
    for (const r of rows) g.set({ symbol: r.symbol, reason: r.reason }, Number(r.n));
  });
  gauge('disarm_total', 'Auto-disarms to dry_run, per reason', ['reason'], async (g) => {
    g.set({ reason: BURST_DISARM }, 0);
    const rows = await db
      .selectFrom('disarm_record')
      .select(['reason', db.fn.countAll<string>().as('n')])
      .groupBy('reason')
      .execute();
    for (const r of rows) g.set({ reason: r.reason }, Number(r.n));
  });
  // The windows the permit gate counts: permits not revoked, issued within the hour / 5 minutes.
  const windows = async () => {
    const now = Date.now();
    return db
      .selectFrom('execution_permit')
      .select([
        'symbol',
        sql<string>`count(*)`.as('last_hour'),
        sql<string>`count(*) filter (where issued_at > ${new Date(now - BURST_WINDOW_MS)})`.as('last_5min'),
      ])
      .where('status', '!=', 'revoked')
      .where('issued_at', '>', new Date(now - HOUR_MS))
      .groupBy('symbol')
      .execute();
  };
  gauge('exec_count_hour', 'Permits counted against the hourly limit, per symbol', ['symbol'], async (g) => {
    for (const r of await windows()) g.set({ symbol: r.symbol }, Number(r.last_hour));
  });
  gauge('exec_count_5min', 'Permits counted against the 5-minute (burst) limit, per symbol', ['symbol'], async (g) => {
    for (const r of await windows()) g.set({ symbol: r.symbol }, Number(r.last_5min));
  });
}
