import { type Kysely, sql } from 'kysely';
import { type CapitalBandThresholds, type CapitalUsage, measureCapitalUsage } from '../domain/capital/bands';
import { GLOBAL_ENGINE, utcDay } from '../domain/risk/rules';
import type { Database } from './database';

/** Today's committed exposure (used, including open reservations) against the GLOBAL daily cap. */
export async function readCapitalUsage(
  db: Kysely<Database>,
  thresholds: CapitalBandThresholds,
  at = new Date(),
): Promise<CapitalUsage> {
  const day = utcDay(at);
  // One round trip; the day's exposure (a sum over its stripes) only where a cap makes it matter.
  const { rows } = await sql<{ max_daily_exposure: number | null; exposure_used: number | null }>`
    select p.max_daily_exposure,
           case when p.max_daily_exposure is null then null
                else (select l.exposure_used from risk_ledger_day l where l.engine = ${GLOBAL_ENGINE} and l.day = ${day})
           end as exposure_used
    from (select 1) as one left join risk_policy p on p.engine = ${GLOBAL_ENGINE}`.execute(db);
  const [usage] = rows;
  return measureCapitalUsage(
    Number(usage?.exposure_used ?? 0),
    usage?.max_daily_exposure == null ? null : Number(usage.max_daily_exposure),
    day,
    thresholds,
  );
}
