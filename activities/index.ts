import type { Kysely } from 'kysely';
import type { WardenClient } from '../src/client';
import type { Database } from '../src/db/database';
import type { DealExecutor } from '../src/deals/types';
import type { GovernorSettings } from '../src/permits/rules';
import { type CommandExecutor, createAutonomyActivities, createSimulatedCommandExecutor } from './autonomy';
import { createControlPlaneActivities } from './control-plane';
import { createDealActivities } from './deal-gates';
import { createSimulatedExecutor } from './simulated-executor';
import { createStrategyGateActivities } from './strategy-gate';
import { type CanaryChecks, createWatchdogActivities } from './watchdogs';

export interface ActivityDeps {
  db: Kysely<Database>;
  governor: GovernorSettings;
  controlPlane: Pick<WardenClient, 'setApplyMode' | 'engageKillSwitch'>;
  /** Reaches the Temporal frontend, for the canary. */
  pingTemporal?: () => Promise<void>;
  /** The user's own canary checks. */
  canaryChecks?: CanaryChecks;
  /** The machine's command service; a producer usually serves its own on its own queue. */
  commandExecutor?: CommandExecutor;
  /** Tells a proposal under validation that a breaker reverted its phase. */
  notifyProposal?: (proposalId: string, payload: { rule: string; detail: string; eventId: string }) => Promise<void>;
  /** The executor served on Warden's own queue; producers usually run theirs elsewhere. */
  executor?: DealExecutor;
}

/** Every activity the `warden` worker serves, closed over its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createControlPlaneActivities(deps),
    ...createDealActivities(deps),
    ...createWatchdogActivities({ ...deps, pingTemporal: deps.pingTemporal ?? (async () => undefined) }),
    ...createAutonomyActivities(deps),
    ...createStrategyGateActivities(deps),
    ...(deps.executor ?? createSimulatedExecutor()),
    ...(deps.commandExecutor ?? createSimulatedCommandExecutor()),
  };
}

export type WardenActivities = ReturnType<typeof createActivities>;
