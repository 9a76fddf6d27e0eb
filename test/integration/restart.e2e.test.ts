import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ThrowawayPostgres, startPostgres } from '../../scripts/postgres.mjs';
import { createActivities } from '../../activities';
import { createSimulatedExecutor } from '../../activities/executors/simulated';
import { WardenClient } from '../../src/client';
import { openDatabase, type OpenDatabase } from '../../src/db/connect';
import { migrateToLatest } from '../../src/db/migrate';
import { applyRestriction, clearRestriction } from '../../src/db/watchdogs.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import {
  devServerAddress,
  markGoLivePlaybookCompleted,
  uniqueName,
  runDevServerWorker,
  type RunningWorker,
} from '../helpers';
import { armControlPlane } from '../support/change-requests';

const namespace = 'warden-restart-e2e';

// Invariant 5 on a PostgreSQL of its own, so it can be stopped and started.
describe('restarts lose nothing', () => {
  let postgres: ThrowawayPostgres;
  let database: OpenDatabase;
  let client: Client;
  let warden: WardenClient;
  let worker: RunningWorker | undefined;
  const taskQueue = uniqueName('restart');
  const address = devServerAddress();

  async function startWorker(): Promise<void> {
    database = await openDatabase({ databaseUrl: postgres.url, dataDir: '.data' });
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: database.db,
        governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 100, maxPerHour: 100 },
        controlPlane: warden,
        // No default executor any more: the deals here fill on Warden's own queue.
        executor: createSimulatedExecutor(),
      }),
    });
  }
  async function stopWorker(): Promise<void> {
    await worker?.stop();
    worker = undefined;
    await database.close();
  }
  const deal = (dealId: string) =>
    warden.executeDeal({ dealId, engine: 'WHOLESALE', symbol: 'BTCUSDT', amount: 10, requestedBy: 'bot' });

  beforeAll(async () => {
    postgres = await startPostgres();
    const setup = await openDatabase({ databaseUrl: postgres.url, dataDir: '.data' });
    await migrateToLatest(setup.db);
    await markGoLivePlaybookCompleted(setup.db);
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    warden = new WardenClient(client, taskQueue);
    await startWorker();
    await armControlPlane(setup.db, warden, { goLive: true, applyMode: 'live' });
    await setup.close();
    await warden.waitForControlPlane(2);
  });

  afterAll(async () => {
    if (worker) await stopWorker();
    await client?.connection.close();
    postgres?.stop();
  });

  it('a throttle holds across a worker and PostgreSQL restart, until cleared', async () => {
    const throttle = await applyRestriction(database.db, {
      engine: 'WHOLESALE',
      kind: 'throttle',
      source: 'operator:ops',
      reason: 'maintenance',
      actor: 'ops',
    });
    expect(await deal('r1')).toMatchObject({ status: 'denied', reason: 'policy_disabled' });
    await stopWorker();
    postgres.pause();
    postgres.resume();
    await startWorker();
    expect(await deal('r2')).toMatchObject({ status: 'denied', reason: 'policy_disabled' });
    expect(await warden.controlPlaneState()).toMatchObject({ goLiveEnabled: true, applyMode: 'live', version: 2 });
    await clearRestriction(database.db, throttle.id, 'ops', 'maintenance over');
    expect(await deal('r3')).toMatchObject({ status: 'executed' });
  });

  it('a deal started while PostgreSQL is down waits, then completes once it is back', async () => {
    postgres.pause();
    const pending = deal('during-outage');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await warden.dealProgress('during-outage')).result).toBeNull();
    postgres.resume();
    expect(await pending).toMatchObject({ status: 'executed' });
    expect(
      await database.db
        .selectFrom('risk_reservation')
        .select('status')
        .where('idempotency_key', '=', 'deal:during-outage')
        .executeTakeFirst(),
    ).toEqual({ status: 'settled' });
  });
});
