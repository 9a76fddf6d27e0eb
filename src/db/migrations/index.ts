import type { Migration } from 'kysely';
import * as controlPlane from './2026_11_24_0001_control_plane';
import * as governedDeals from './2026_11_24_0002_governed_deals';
import * as watchdogs from './2026_11_24_0003_watchdogs';
import * as autonomy from './2026_11_24_0004_autonomy';
import * as strategyGate from './2026_11_24_0005_strategy_gate';

/** Every migration, by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_control_plane': controlPlane,
  '2026_11_24_0002_governed_deals': governedDeals,
  '2026_11_24_0003_watchdogs': watchdogs,
  '2026_11_24_0004_autonomy': autonomy,
  '2026_11_24_0005_strategy_gate': strategyGate,
};
