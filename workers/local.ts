// `npm start`: Warden with embedded defaults. A dev server from the tools
// folder unless TEMPORAL_ADDRESS is set, PGlite unless DATABASE_URL is set.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Runtime } from '@temporalio/worker';
import { createLogger, temporalLogger } from '../src/config/logging';
import { createSimulatedCommandExecutor, createSimulatedExecutor } from '../activities/executors/simulated';
import type { ControlPlaneView } from '../src/domain/control-plane/types';
import { type Config, ConfigError, loadConfig } from '../src/config/index';
import { withLocalApprovalKeys } from '../src/security/approval-keys';
import { type DevServer, startDevServer } from '../src/temporal/dev-server';
import { serveLocalOps } from '../src/operator/cli/local-ops';
import { workerRuntimeTelemetry } from '../src/operator/metrics/worker-runtime';
import { runWarden, wire } from './wire';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  // Votes through the API are signed even here: the first run makes the key pair under the data folder.
  const { config, created } = withLocalApprovalKeys(loadConfig());
  mkdirSync(config.dataDir, { recursive: true });
  if (created) say(`approval signing key made: ${created} (owner-only, 0600; its public half beside it)`);
  // Before any NativeConnection: the runtime's telemetry is fixed at install.
  const telemetryOptions = workerRuntimeTelemetry(config.workerMetricsPort, '127.0.0.1');
  // Structured like the production worker's, at warn unless asked: the lines above and below say what happens.
  const logger = createLogger(config.logLevel ?? 'warn');
  Runtime.install({
    logger: temporalLogger(logger.child({ component: 'worker' })),
    ...(telemetryOptions ? { telemetryOptions } : {}),
  });

  const cleanups: (() => Promise<void>)[] = [];
  // Once, last step first: a stop while starting and the start's own failure may both ask.
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const step of [...cleanups].reverse()) await step().catch((error: unknown) => console.error(error));
    })());
  let devServer: DevServer | undefined;
  // One stop, however many signals ask. A service manager or `timeout` signals the whole process group
  // and start.mjs forwards SIGTERM as well: a second SIGTERM used to end this process before its
  // clean-up, leaving the dev server (a process group of its own) running on the port. A second Ctrl-C
  // is a person insisting: the dev server is killed, then this process exits. Before the worker runs,
  // a stop cleans up what has started and exits.
  let stopping = false;
  let shutDownWorker: (() => void) | undefined;
  const onStopSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') void (devServer?.kill() ?? Promise.resolve()).finally(() => process.exit(130));
      return;
    }
    stopping = true;
    say('\nstopping Warden…');
    if (shutDownWorker) shutDownWorker();
    else void cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', onStopSignal);
  process.on('SIGTERM', onStopSignal);
  try {
    if (config.temporal.address === undefined) {
      devServer = await startDevServer({
        dbFile: path.join(config.dataDir, 'temporal.sqlite'),
        port: config.temporalPort,
        uiPort: config.uiPort,
      });
      cleanups.push(() => devServer!.stop());
      config.temporal.address = devServer.address;
      say(`temporal dev server up at ${devServer.address} (state in ${path.join(config.dataDir, 'temporal.sqlite')})`);
    }
    const wiring = await wire(config, {
      host: '127.0.0.1',
      registerSearchAttributes: devServer !== undefined,
      // The demo's executors: every deal fills, every command succeeds.
      extras: { executor: createSimulatedExecutor(), commandExecutor: createSimulatedCommandExecutor() },
    });
    cleanups.push(() => wiring.close());
    say(`database: ${wiring.description} (${wiring.migrationsApplied} migration(s) applied)`);
    const { worker } = wiring;
    await runWarden(wiring, config, {
      host: '127.0.0.1',
      logger,
      onRunning: async ({ warden, schedules, apiUrl }) => {
        // The embedded database admits one process: `warden` without a key runs its operations through
        // us, as the local owner.
        if (config.databaseUrl === undefined) {
          const deps = { db: wiring.db, warden, temporal: wiring.client, config, registry: wiring.registry };
          const ops = await serveLocalOps(deps, config.dataDir);
          wiring.onClose(() => ops.close());
        }
        const state = await warden.waitForControlPlane(0);
        printHints({
          config,
          devServer,
          apiUrl,
          metricsUrl: wiring.metricsUrl,
          telemetry: telemetryOptions !== undefined,
          schedules,
          state,
        });
        shutDownWorker = () => worker.shutdown();
      },
    });
    say('worker stopped');
  } finally {
    await cleanUp();
  }
}

function printHints({
  config,
  devServer,
  apiUrl,
  metricsUrl,
  telemetry,
  schedules,
  state,
}: {
  config: Config;
  devServer: DevServer | undefined;
  apiUrl: string | undefined;
  metricsUrl: string | undefined;
  telemetry: boolean;
  schedules: string[];
  state: ControlPlaneView;
}): void {
  say('');
  say(
    `Warden is running: worker on task queue "${config.temporal.taskQueue}", namespace "${config.temporal.namespace}".`,
  );
  if (devServer) say(`Temporal Web UI: ${devServer.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
  if (apiUrl) say(`Operator API: ${apiUrl} (OpenAPI at ${apiUrl}/openapi.json)`);
  if (metricsUrl) say(`Prometheus metrics: ${metricsUrl}`);
  if (telemetry) say(`Worker runtime metrics: http://127.0.0.1:${config.workerMetricsPort}/metrics`);
  say(
    `Watchdog schedules: ${schedules.join(', ')} (tripwire every ${config.watchdogs.tripwireEvery}, canary every ${config.watchdogs.canaryEvery})`,
  );
  say(
    `Notifications: ${config.webhooks.length === 0 ? 'recorded only (set WARDEN_WEBHOOKS=name=url,… to deliver them)' : `delivered to ${config.webhooks.map((w) => w.name).join(', ')}`} — npx warden notifications`,
  );
  say(
    `Control plane: go-live ${state.goLiveEnabled ? 'ON' : 'off'}, kill switch ${state.killSwitchEngaged ? 'ENGAGED' : 'released'}, apply mode ${state.applyMode} (version ${state.version})`,
  );
  say('');
  if (config.databaseUrl === undefined)
    say('Try, in another terminal (without a key, `warden` acts as the local owner of this embedded database):');
  else {
    say('With PostgreSQL, `warden` acts only with an API key. The first owner key (once, while no key exists):');
    say('  npx warden keys create --identity you --roles owner && export WARDEN_API_KEY=wk_…');
    say('Then try:');
  }
  say('  npx warden status');
  if (state.killSwitchEngaged)
    say('  npx warden kill-switch release --reason "reviewed"   # engaged since last time (someone else votes)');
  say(
    '  npx warden review                                  # the Monday review: what broke, was denied, drifted, waits',
  );
  say('  npx warden playbook start && npx warden playbook steps   # go-live is refused until the nine steps are done');
  say('  npx warden playbook step preflight --evidence "migrations applied, seed policies listed"');
  say('  npx warden go-live on --reason "demo"                 # after sign_off; a change request others approve');
  say('  npx warden apply-mode testnet --reason "demo"          # a change request others approve (below)');
  say(
    '  npx warden deal start --deal-id demo-1 --engine WHOLESALE --symbol BTCUSDT --amount 100 --class SANDBOX_EXEC --wait   # executed, once both are approved',
  );
  say(
    '  npx warden deal start --deal-id demo-2 --engine WHOLESALE --symbol BTCUSDT --amount 900 --wait   # denied: over the cap',
  );
  say('  npx warden risk ledger');
  say('  npx warden tripwire status');
  say('  npx warden autonomy status && npx warden readiness');
  say('  npx warden kill-switch engage --reason "drill"');
  say('  npx warden audit verify');
  say(`  .tools/bin/temporal workflow query --workflow-id warden-control-plane --type state`);
  say('Two people: what loosens anything waits for someone else. Create a second identity, approve as it:');
  say(
    '  npx warden keys create --identity bob --roles owner                # the first key is active at once; wk_… shown once',
  );
  say('  WARDEN_API_KEY=wk_… npx warden change approve <id>                  # bob approves the change request <id>');
  say('Ctrl-C stops everything; state is kept for the next start.');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(
      `warden: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);
