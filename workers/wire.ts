// The worker's composition, shared by the production entry (main.ts) and the
// local one (local.ts): config → Kysely → client → activity factories → Worker.
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { ApplicationFailure, type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { DealReleasePort, DealWorkflowPort } from '../src/domain/deals/port';
import { ErrorType } from '../src/domain/shared/errors';
import { type ActivityDeps, createActivities } from '../activities';
import type { CanaryChecks } from '../activities/watchdogs';
import { WardenClient } from '../src/client';
import { type Config, governanceSettingsOf, watchdogScheduleSettings } from '../src/config/index';
import { workflowSource } from '../src/config/paths';
import { openDatabase } from '../src/db/connect';
import type { Database } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrate';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import { wardenNexusHandler } from '../src/nexus/handlers';
import { createApiServer, serveApi } from '../src/operator/api/server';
import { createGovernanceMetrics, serveMetrics } from '../src/operator/metrics/governance-metrics';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import { ensureSearchAttributes } from '../src/temporal/search-attributes';
import {
  applyReservationSweepSchedule,
  applyWatchdogSchedules,
  RESERVATION_SWEEP_SCHEDULE_ID,
} from '../src/temporal/schedules';
import { breakerTrippedSignal } from '../workflows/messages';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';

/**
 * What the caller may add: its own canary checks, and the executors (local.ts and the tests wire the
 * simulated ones; main.ts only with WARDEN_SIMULATED_EXECUTORS=true). None given: none served.
 */
export type WorkerExtras = { canaryChecks?: CanaryChecks } & Pick<ActivityDeps, 'executor' | 'commandExecutor'>;

/** The WardenClient is the worker's ControlPlanePort: activities signal the control plane through it. */
export function controlPlanePort(client: Client, taskQueue: string): ControlPlanePort {
  return new WardenClient(client, taskQueue);
}

/** The reservation sweep's view of Temporal: whether a deal's latest run is still open. */
export function dealWorkflowPort(client: Client): DealWorkflowPort {
  return {
    async dealWorkflowStatus(workflowId) {
      try {
        const { status } = await client.workflow.getHandle(workflowId).describe();
        return status.name === 'RUNNING' ? 'running' : 'closed';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return 'not_found';
        throw error;
      }
    },
  };
}

/**
 * An applied deal_release change request's word to its deal. A deal no longer waiting (a resend after it
 * ended) or whose workflow closed (an orphan, the sweep's to flag) takes no word: nothing to send.
 */
export function dealReleasePort(client: Client, taskQueue: string): DealReleasePort {
  const warden = new WardenClient(client, taskQueue);
  return {
    async releaseDeal(workflowId, dealId, word) {
      try {
        if ((await client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING') return;
        await warden.reconcileDeal(dealId, { executed: false, ...word }, workflowId);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return;
        const refused =
          error instanceof WorkflowUpdateFailedError &&
          error.cause instanceof ApplicationFailure &&
          error.cause.type === ErrorType.ReconciliationRefused;
        if (!refused) throw error;
      }
    },
  };
}

/** The `warden` worker: every workflow and activity, wired to one database. */
export async function createWardenWorker(
  deps: { connection: NativeConnection; config: Config; db: Kysely<Database>; client: Client } & WorkerExtras,
): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.config.temporal.taskQueue,
    ...(deps.config.workflowBundlePath
      ? { workflowBundle: { codePath: deps.config.workflowBundlePath } }
      : workflowSource()),
    // Producers outside Warden's namespace reach the deal and command workflows through this service.
    nexusServices: [wardenNexusHandler],
    activities: createActivities({
      db: deps.db,
      governor: deps.config.governor,
      settings: governanceSettingsOf(deps.config),
      controlPlane: controlPlanePort(deps.client, deps.config.temporal.taskQueue),
      notifyProposal: async (proposalId, payload) => {
        await deps.client.workflow.getHandle(proposalId).signal(breakerTrippedSignal, payload);
      },
      pingTemporal: async () => {
        await deps.client.workflowService.getSystemInfo({});
      },
      dealWorkflows: dealWorkflowPort(deps.client),
      dealReleases: dealReleasePort(deps.client, deps.config.temporal.taskQueue),
      ...(deps.canaryChecks ? { canaryChecks: deps.canaryChecks } : {}),
      ...(deps.executor ? { executor: deps.executor } : {}),
      ...(deps.commandExecutor ? { commandExecutor: deps.commandExecutor } : {}),
    }),
  });
}

export interface Wiring {
  db: Kysely<Database>;
  /** Where the database is, for the start-up lines (a URL without its password, or the PGlite folder). */
  description: string;
  migrationsApplied: number;
  client: Client;
  worker: Worker;
  registry: Registry;
  metricsUrl: string | undefined;
  /** Registers something to close with the rest (closed last first). */
  onClose(step: () => Promise<void>): void;
  close(): Promise<void>;
}

/**
 * Opens and migrates the database, serves the governance metrics, connects
 * to Temporal and creates the worker. A step that fails closes what the
 * steps before it opened.
 */
export async function wire(
  config: Config,
  options: {
    host: string;
    extras?: WorkerExtras;
    afterMigrate?: (db: Kysely<Database>) => Promise<(() => Promise<void>) | void>;
    /** Add Warden's search attributes where missing (the embedded dev server); otherwise a missing one stops the start. */
    registerSearchAttributes?: boolean;
  },
): Promise<Wiring> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const step of closers.splice(0).reverse()) await step().catch((error: unknown) => console.error(error));
  };
  try {
    const database = await openDatabase(config);
    closers.push(() => database.close());
    const migrated = await migrateToLatest(database.db);
    const closeExtra = await options.afterMigrate?.(database.db);
    if (closeExtra) closers.push(closeExtra);
    const registry = createGovernanceMetrics(database.db, { capitalBands: config.capitalBands });
    const metrics = config.metricsPort > 0 ? await serveMetrics(registry, config.metricsPort, options.host) : undefined;
    if (metrics) closers.push(() => metrics.close());
    const connection = await connectWorkerConnection(config.temporal);
    closers.push(() => connection.close());
    await ensureSearchAttributes(connection, config.temporal.namespace, {
      register: options.registerSearchAttributes ?? false,
    });
    const client = await connectClient(config.temporal);
    closers.push(() => client.connection.close());
    const worker = await createWardenWorker({ connection, config, db: database.db, client, ...options.extras });
    return {
      db: database.db,
      description: database.description,
      migrationsApplied: migrated.applied.length,
      client,
      worker,
      registry,
      metricsUrl: metrics ? `http://${options.host}:${metrics.port}/metrics` : undefined,
      onClose: (step) => closers.push(step),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Running {
  warden: WardenClient;
  schedules: string[];
  apiUrl: string | undefined;
}

/**
 * Runs the worker, then makes sure the control plane, the notification
 * dispatcher and the watchdog schedules exist and serves the operator API.
 * Resolves when the worker stops; a failed start-up stops it first.
 */
export async function runWarden(
  w: Wiring,
  config: Config,
  options: { host: string; logger?: Logger; onRunning?: (running: Running) => Promise<void> | void },
): Promise<void> {
  const running = w.worker.run();
  try {
    const warden = new WardenClient(w.client, config.temporal.taskQueue);
    await warden.ensureControlPlane();
    await warden.ensureNotificationDispatch();
    const schedules = await applyWatchdogSchedules(w.client, watchdogScheduleSettings(config));
    const sweep = await applyReservationSweepSchedule(w.client, { taskQueue: config.temporal.taskQueue });
    schedules[sweep].push(RESERVATION_SWEEP_SCHEDULE_ID);
    let apiUrl: string | undefined;
    if (config.apiPort > 0) {
      const api = await serveApi(
        createApiServer(
          { db: w.db, warden, temporal: w.client, config, registry: w.registry },
          { rateLimitPerMinute: config.rateLimitPerMinute, ...(options.logger ? { logger: options.logger } : {}) },
        ),
        config.apiPort,
        options.host,
      );
      w.onClose(() => api.close());
      apiUrl = `http://${options.host}:${api.port}`;
    }
    await options.onRunning?.({ warden, schedules: [...schedules.created, ...schedules.updated], apiUrl });
  } catch (error) {
    if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    await running;
    throw error;
  }
  await running;
}
