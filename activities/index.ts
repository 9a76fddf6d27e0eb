import type { Kysely } from 'kysely';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import { type GovernanceSettings, SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import type { Database } from '../src/db/database';
import type { DealExecutor } from '../src/domain/deals/types';
import type { GovernorSettings } from '../src/domain/permits/rules';
import type { CommandExecutor } from '../src/domain/autonomy/activities';
import { createAutonomyActivities } from './autonomy';
import { createControlPlaneActivities } from './control-plane';
import { createDealActivities } from './deal-gates';
import { createGoLiveActivities } from './go-live';
import { createNotificationActivities } from './notifications';
import { createApprovalActivities } from './approvals';
import { createSimulatedCommandExecutor, createSimulatedExecutor } from './executors/simulated';
import { createStrategyGateActivities } from './strategy-gate';
import { type CanaryChecks, createWatchdogActivities } from './watchdogs';

export interface ActivityDeps {
  db: Kysely<Database>;
  /** This environment's release rules, signed-approval mode, capital bands and webhooks; defaults are the safe ones. */
  settings?: GovernanceSettings;
  governor: GovernorSettings;
  controlPlane: ControlPlanePort;
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
  const settings = deps.settings ?? SAFE_GOVERNANCE_SETTINGS;
  const { db } = deps;
  return {
    ...createControlPlaneActivities({ db, settings }),
    ...createDealActivities({ ...deps, capitalBands: settings.capitalBands }),
    ...createWatchdogActivities({
      ...deps,
      pingTemporal: deps.pingTemporal ?? (async () => undefined),
      capitalBands: settings.capitalBands,
    }),
    ...createAutonomyActivities(deps),
    ...createStrategyGateActivities(deps),
    ...createGoLiveActivities({ db, goLive: settings }),
    ...createNotificationActivities({ db, webhooks: settings.webhooks, environment: settings.environment }),
    ...createApprovalActivities({ db, settings }),
    // Defaults kept for now so production behaves as before; a later issue makes the executors explicit.
    ...(deps.executor ?? createSimulatedExecutor()),
    ...(deps.commandExecutor ?? createSimulatedCommandExecutor()),
  };
}

export type WardenActivities = ReturnType<typeof createActivities>;
