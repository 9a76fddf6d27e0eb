// `npm start`: Warden with embedded defaults. A dev server from the tools
// folder unless TEMPORAL_ADDRESS is set, PGlite unless DATABASE_URL is set.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { WardenClient } from '../src/client';
import { ConfigError, loadConfig, watchdogScheduleSettings } from '../src/config/index';
import { openDatabase } from '../src/db/connect';
import { migrateToLatest } from '../src/db/migrate';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import { type DevServer, startDevServer } from '../src/temporal/dev-server';
import { createDataAccess } from '../src/operator/cli/data-access';
import { serveLocalOps } from '../src/operator/cli/local-ops';
import { createGovernanceMetrics, serveMetrics } from '../src/operator/metrics/governance-metrics';
import { workerRuntimeTelemetry } from '../src/operator/metrics/worker-runtime';
import { applyWatchdogSchedules } from '../src/temporal/schedules';
import { createApiServer, serveApi } from '../src/operator/api/server';
import { createWardenWorker } from './create-worker';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  mkdirSync(config.dataDir, { recursive: true });
  // Before any NativeConnection: the runtime's telemetry is fixed at install.
  const telemetryOptions = workerRuntimeTelemetry(config.workerMetricsPort, '127.0.0.1');
  Runtime.install({ logger: new DefaultLogger('WARN'), ...(telemetryOptions ? { telemetryOptions } : {}) });

  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error(error));
  };
  try {
    let devServer: DevServer | undefined;
    if (config.temporal.address === undefined) {
      devServer = await startDevServer({ dbFile: path.join(config.dataDir, 'temporal.sqlite'), uiPort: config.uiPort });
      cleanups.push(() => devServer!.stop());
      config.temporal.address = devServer.address;
      say(`temporal dev server up at ${devServer.address} (state in ${path.join(config.dataDir, 'temporal.sqlite')})`);
    }
    const database = await openDatabase(config);
    cleanups.push(() => database.close());
    const migrated = await migrateToLatest(database.db);
    if (config.databaseUrl === undefined) {
      // The embedded database admits one process: `warden` reads through us.
      const ops = await serveLocalOps(createDataAccess(database.db), config.dataDir);
      cleanups.push(() => ops.close());
    }
    say(`database: ${database.description} (${migrated.applied.length} migration(s) applied)`);

    const registry = createGovernanceMetrics(database.db, { capitalBands: config.capitalBands });
    let metricsUrl: string | undefined;
    if (config.metricsPort > 0) {
      const metrics = await serveMetrics(registry, config.metricsPort, '127.0.0.1');
      cleanups.push(() => metrics.close());
      metricsUrl = `http://127.0.0.1:${metrics.port}/metrics`;
    }
    const connection = await connectWorkerConnection(config.temporal);
    cleanups.push(() => connection.close());
    const client = await connectClient(config.temporal);
    cleanups.push(() => client.connection.close());
    const worker = await createWardenWorker({ connection, config, db: database.db, client });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const warden = new WardenClient(client, config.temporal.taskQueue);
    await warden.ensureControlPlane();
    await warden.ensureNotificationDispatch();
    const schedules = await applyWatchdogSchedules(client, watchdogScheduleSettings(config));
    const state = await warden.waitForControlPlane(0);
    let apiUrl: string | undefined;
    if (config.apiPort > 0) {
      const api = await serveApi(createApiServer({ db: database.db, warden, temporal: client, config, registry }, { rateLimitPerMinute: config.rateLimitPerMinute }), config.apiPort, '127.0.0.1');
      cleanups.push(() => api.close());
      apiUrl = `http://127.0.0.1:${api.port}`;
    }

    say('');
    say(`Warden is running: worker on task queue "${config.temporal.taskQueue}", namespace "${config.temporal.namespace}".`);
    if (devServer) say(`Temporal Web UI: ${devServer.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    if (apiUrl) say(`Operator API: ${apiUrl} (OpenAPI at ${apiUrl}/openapi.json; create a key with: npx warden keys create --identity you --roles owner)`);
    if (metricsUrl) say(`Prometheus metrics: ${metricsUrl}`);
    if (telemetryOptions) say(`Worker runtime metrics: http://127.0.0.1:${config.workerMetricsPort}/metrics`);
    say(`Watchdog schedules: ${[...schedules.created, ...schedules.updated].join(', ')} (tripwire every ${config.watchdogs.tripwireEvery}, canary every ${config.watchdogs.canaryEvery})`);
    say(`Notifications: ${config.webhooks.length === 0 ? 'recorded only (set WARDEN_WEBHOOKS=name=url,… to deliver them)' : `delivered to ${config.webhooks.map((w) => w.name).join(', ')}`} — npx warden notifications`);
    say(`Control plane: go-live ${state.goLiveEnabled ? 'ON' : 'off'}, kill switch ${state.killSwitchEngaged ? 'ENGAGED' : 'released'}, apply mode ${state.applyMode} (version ${state.version})`);
    say('');
    say('Try, in another terminal:');
    say('  npx warden status');
    if (state.killSwitchEngaged) say('  npx warden kill-switch release --role risk_officer --reason "reviewed"   # engaged since last time');
    say('  npx warden review                                  # the Monday review: what broke, was denied, drifted, waits');
    say('  npx warden playbook start && npx warden playbook steps   # go-live is refused until the nine steps are done');
    say('  npx warden playbook step preflight --evidence "migrations applied, seed policies listed"');
    say('  npx warden go-live on --reason "demo"                 # after sign_off');
    say('  npx warden apply-mode testnet --reason "demo"');
    say('  npx warden deal start --deal-id demo-1 --engine WHOLESALE --symbol BTCUSDT --amount 100 --wait   # executed');
    say('  npx warden deal start --deal-id demo-2 --engine WHOLESALE --symbol BTCUSDT --amount 900 --wait   # denied: over the cap');
    say('  npx warden risk ledger');
    say('  npx warden tripwire status');
    say('  npx warden autonomy status && npx warden readiness');
    say('  npx warden kill-switch engage --reason "drill"');
    say('  npx warden audit verify');
    say(`  .tools/bin/temporal workflow query --workflow-id warden-control-plane --type state`);
    say('Ctrl-C stops everything; state is kept for the next start.');

    const stop = () => {
      say('\nstopping Warden…');
      worker.shutdown();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await running;
    say('worker stopped');
  } finally {
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`warden: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
