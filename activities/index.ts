import type { Kysely } from 'kysely';
import type { WardenClient } from '../src/client';
import type { ControlPlaneSettings } from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import type { DealExecutor } from '../src/deals/types';
import type { GovernorSettings } from '../src/permits/rules';
import { DEFAULT_GO_LIVE_SETTINGS, type GoLiveSettings } from '../src/go-live/settings';
import { type CommandExecutor, createAutonomyActivities, createSimulatedCommandExecutor } from './autonomy';
import { createControlPlaneActivities } from './control-plane';
import { createDealActivities } from './deal-gates';
import { createGoLiveActivities } from './go-live';
import { createNotificationActivities, type NotificationActivityDeps } from './notifications';
import { createSimulatedExecutor } from './simulated-executor';
import { createStrategyGateActivities } from './strategy-gate';
import { type CanaryChecks, createWatchdogActivities } from './watchdogs';

export interface ActivityDeps {
  db: Kysely<Database>;
  /** This environment's kill-switch release rules, signed-approval mode and capital bands; defaults are the safe ones. */
  controlPlaneSettings?: ControlPlaneSettings;
  governor: GovernorSettings;
  controlPlane: Pick<WardenClient, 'setApplyMode' | 'engageKillSwitch' | 'refreshCapitalBand'>;
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
  /** Environment, capital bands, canary threshold and approval mode for the go-live playbook and sessions. */
  goLive?: GoLiveSettings;
  /** Webhooks and environment name for notification delivery; without webhooks nothing is sent. */
  notifications?: Omit<NotificationActivityDeps, 'db'>;
}

/** Every activity the `warden` worker serves, closed over its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createControlPlaneActivities(deps),
    ...createDealActivities({ ...deps, ...(deps.controlPlaneSettings ? { capitalBands: deps.controlPlaneSettings.capitalBands } : {}) }),
    ...createWatchdogActivities({ ...deps, pingTemporal: deps.pingTemporal ?? (async () => undefined), ...(deps.controlPlaneSettings ? { capitalBands: deps.controlPlaneSettings.capitalBands } : {}) }),
    ...createAutonomyActivities(deps),
    ...createStrategyGateActivities(deps),
    ...createGoLiveActivities({ db: deps.db, goLive: deps.goLive ?? DEFAULT_GO_LIVE_SETTINGS }),
    ...createNotificationActivities({ ...deps.notifications, db: deps.db }),
    ...(deps.executor ?? createSimulatedExecutor()),
    ...(deps.commandExecutor ?? createSimulatedCommandExecutor()),
  };
}

export type WardenActivities = ReturnType<typeof createActivities>;
