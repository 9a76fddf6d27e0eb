// The long-lived scenario at full size (issue 15 item 6): its own dev server, a
// scratch database and an in-process Warden worker; prints the table and writes
// .data/reliability/long-lived.json. Sizes: LONG_LIVED_CONTROL_PLANE_SIGNALS,
// LONG_LIVED_PROPOSAL_SIGNALS (25,000 and 5,000).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { WardenClient } from '../src/client';
import { SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import { projectRoot, workflowSource } from '../src/config/paths';
import { DEFAULT_GOVERNOR_SETTINGS } from '../src/domain/permits/rules';
import { breakerTrippedSignal } from '../workflows/messages';
import { createScratchDatabase, createWardenDevServer } from '../test/support/processes';
import { formatLongLived, runLongLived } from './long-lived';

const size = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const database = await createScratchDatabase('warden_long_lived');
  const env = await createWardenDevServer();
  const taskQueue = 'long-lived';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    ...workflowSource(),
    activities: createActivities({
      db: database.db,
      governor: DEFAULT_GOVERNOR_SETTINGS,
      // The safe defaults: a 15-minute release cooldown outlasts the flood.
      settings: SAFE_GOVERNANCE_SETTINGS,
      controlPlane: new WardenClient(env.client, taskQueue),
      notifyProposal: async (id, payload) => {
        await env.client.workflow.getHandle(id).signal(breakerTrippedSignal, payload);
      },
    }),
  });
  try {
    const figures = await worker.runUntil(
      runLongLived({
        client: env.client,
        taskQueue,
        db: database.db,
        controlPlaneSignals: size('LONG_LIVED_CONTROL_PLANE_SIGNALS', 25_000),
        proposalSignals: size('LONG_LIVED_PROPOSAL_SIGNALS', 5_000),
        proposalId: `expansion-long-lived-${Date.now()}`,
        log: (line) => console.log(line),
      }),
    );
    console.log(formatLongLived(figures));
    const out = path.join(projectRoot, '.data', 'reliability');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'long-lived.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`written to ${path.join(out, 'long-lived.json')}`);
    process.exitCode = figures.ok ? 0 : 1;
  } finally {
    await env.teardown();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
