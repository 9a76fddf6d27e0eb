import type { Kysely } from 'kysely';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import { type GovernanceSettings, SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import type { Database } from '../src/db/database';
import type { DealExecutor } from '../src/domain/deals/types';
import type { GovernorSettings } from '../src/domain/permits/rules';
import type { CommandExecutor } from '../src/domain/autonomy/activities';
import { createAutonomyActivities } from './autonomy';
import { createWeekActivities } from './week';
import { createCommandGateActivities } from './command-gates';
import { createControlPlaneActivities } from './control-plane';
import { createDealActivities } from './deal-gates';
import { createReservationSweepActivities } from './reservation-sweep';
import type { DealReleasePort, DealWorkflowPort } from '../src/domain/deals/port';
import { createGoLiveActivities } from './go-live';
import { createNotificationActivities } from './notifications';
import { createApprovalActivities } from './approvals';
import { createChangeRequestActivities } from './change-requests';
import { createProposalActivities } from './proposals';
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
  /**
   * The executor served on Warden's own queue; producers usually run theirs elsewhere
   * (`executorTaskQueue`). None by default: no fake fills in production.
   */
  executor?: DealExecutor;
  /** Tells the reservation sweep whether a deal's workflow is closed; without it, nothing is swept. */
  dealWorkflows?: DealWorkflowPort;
  /** Sends an applied deal_release change request to its deal's workflow; without it, such a request cannot apply. */
  dealReleases?: DealReleasePort;
}

/** Every activity the `warden` worker serves, closed over its dependencies. */
export function createActivities(deps: ActivityDeps) {
  const settings = deps.settings ?? SAFE_GOVERNANCE_SETTINGS;
  const { db } = deps;
  return {
    ...createControlPlaneActivities({ db, settings }),
    // Admission knows whether Warden's own queue serves an executor: without one (and without an
    // executorTaskQueue) a deal is denied `no_executor` before anything is reserved. The command
    // path does the same from `{ commandExecutorServed: deps.commandExecutor !== undefined }` in
    // its own factory line. There is no default executor: the simulated ones (no fake fills in
    // production) are wired only by `npm start`, the tests, or WARDEN_SIMULATED_EXECUTORS=true.
    ...createDealActivities({
      ...deps,
      capitalBands: settings.capitalBands,
      executorServed: deps.executor !== undefined,
    }),
    ...createReservationSweepActivities({
      db,
      workflows: deps.dealWorkflows ?? { dealWorkflowStatus: async () => 'running' },
    }),
    ...createWatchdogActivities({
      ...deps,
      pingTemporal: deps.pingTemporal ?? (async () => undefined),
      capitalBands: settings.capitalBands,
    }),
    ...createAutonomyActivities(deps),
    ...createWeekActivities({ db, capitalBands: settings.capitalBands }),
    ...createCommandGateActivities({ db, commandExecutorServed: deps.commandExecutor !== undefined }),
    ...createStrategyGateActivities(deps),
    ...createGoLiveActivities({ db, goLive: settings }),
    ...createNotificationActivities({
      db,
      webhooks: settings.webhooks,
      environment: settings.environment,
      webhookSecret: settings.webhookSecret,
    }),
    ...createApprovalActivities({ db, settings }),
    ...createProposalActivities({ db }),
    ...createChangeRequestActivities({
      db,
      controlPlane: deps.controlPlane,
      settings,
      ...(deps.dealReleases ? { dealReleases: deps.dealReleases } : {}),
    }),
    ...deps.executor,
    ...deps.commandExecutor,
  };
}

export type WardenActivities = ReturnType<typeof createActivities>;
