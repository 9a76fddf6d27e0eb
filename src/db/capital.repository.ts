import type { Kysely } from 'kysely';
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
  const [ledger, policy] = await Promise.all([
    db
      .selectFrom('risk_ledger_day')
      .select('exposure_used')
      .where('engine', '=', GLOBAL_ENGINE)
      .where('day', '=', day)
      .executeTakeFirst(),
    db
      .selectFrom('risk_policy')
      .select(['max_daily_exposure', 'enabled'])
      .where('engine', '=', GLOBAL_ENGINE)
      .executeTakeFirst(),
  ]);
  return measureCapitalUsage(
    Number(ledger?.exposure_used ?? 0),
    policy?.max_daily_exposure == null ? null : Number(policy.max_daily_exposure),
    day,
    thresholds,
  );
}
