import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database';
import { getStrategy, setStrategyLevel, type Strategy, upsertStrategy } from '../../src/db/strategy.repository';

/**
 * A test's strategy at the level it needs. upsertStrategy creates at L0 only (a level rises through an
 * approved promotion or change request), so a new strategy is created at L0 and then put at its level
 * directly, as a seeded database would hold it. An existing one goes through upsertStrategy unchanged,
 * which still refuses a level change.
 */
export async function seedStrategy(
  db: Kysely<Database>,
  s: Strategy,
  actor = 'setup',
  reason = 'test',
): Promise<Strategy> {
  if (await getStrategy(db, s.id)) return upsertStrategy(db, s, actor, reason);
  await upsertStrategy(db, { ...s, level: 'L0' }, actor, reason);
  if (s.level !== 'L0') await setStrategyLevel(db, { id: s.id, to: s.level, since: new Date() });
  return s;
}
