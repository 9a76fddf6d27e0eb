import { type GovernanceSettings, SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { registerSearchAttributes } from '../src/temporal/search-attributes';
import type { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { Database } from '../src/db/database';
import { openDatabase } from '../src/db/connect';
import { migrateToLatest } from '../src/db/migrate';
import { recordChangeRequest } from '../src/db/change-requests.repository';
import { toolPaths } from '../src/config/paths';

export function adminDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with npm test, which starts PostgreSQL');
  return url;
}

export interface TestDatabase {
  db: Kysely<Database>;
  url: string;
  /** Runs raw SQL as the cluster's superuser on this database (to tamper behind the triggers' back). */
  superuser: Kysely<Database>;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the test cluster; one per test file. */
/** Release rules loose enough for tests about other things: no cooldown, one approver (never the engager). */
export const TEST_SETTINGS: GovernanceSettings = {
  ...SAFE_GOVERNANCE_SETTINGS,
  environment: 'test',
  release: { cooldown: '0s', approvals: 1 },
};

/**
 * Go-live is accepted only after a goLivePlaybook completed; tests about
 * other things start from that point instead of walking the nine steps.
 */
export async function markGoLivePlaybookCompleted(db: Kysely<Database>): Promise<void> {
  await db
    .insertInto('go_live_playbook')
    .values({
      id: `fixture-${randomUUID()}`,
      status: 'completed',
      steps: JSON.stringify({}),
      started_by: 'test-fixture',
      started_at: new Date(),
      completed_at: new Date(),
      environment: 'test',
    })
    .execute();
}

export async function createTestDatabase(migrate = true): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  const name = `warden_test_${randomUUID().replaceAll('-', '')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  const opened = await openDatabase({ databaseUrl: url.toString(), dataDir: '.data' });
  if (migrate) await migrateToLatest(opened.db);
  const superuserPool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  superuserPool.on('error', () => undefined);
  const superuser = new Kysely<Database>({ dialect: new PostgresDialect({ pool: superuserPool }) });
  return {
    db: opened.db,
    url: url.toString(),
    superuser,
    async drop() {
      await superuser.destroy();
      await opened.close();
      const cleanup = new pg.Client({ connectionString: adminDatabaseUrl() });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

export function workflowBundle(): { code: string } {
  return { code: inject('workflowBundleCode') };
}

export function devServerAddress(): string {
  return inject('temporalAddress');
}

/** The run's shared dev server: for workflows without long timers, schedules and the CLI. */
/** The shared dev server; a file that runs the singleton control plane names its own namespace (global-setup.ts). */
export function connectDevServer(namespace?: string): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({
    address: devServerAddress(),
    ...(namespace ? { namespace } : {}),
  });
}

/** The time-skipping server: for workflows that wait on long timers. Warden's search attributes registered, as a worker needs. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPaths.testServer } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** Task queue and workflow ids unique to one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

export interface RunningWorker {
  /** Shuts the worker down, waits for it, and closes its connection. */
  stop(): Promise<void>;
}

/** A worker on the shared dev server with the run's workflow bundle, running until `stop()`. */
export async function runDevServerWorker(options: {
  namespace?: string;
  taskQueue: string;
  activities: object;
  workflows?: boolean;
}): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: devServerAddress() });
  const worker = await Worker.create({
    connection,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.workflows === false ? {} : { workflowBundle: workflowBundle() }),
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * A `deal_release` change request as the policyChange workflow records it, pending or applied (as after its
 * approvals), for tests of the deal's side: a release counts only under an applied one.
 */
export function recordDealReleaseRequest(
  db: Kysely<Database>,
  {
    id,
    dealId,
    status,
    requester = 'ops',
  }: { id: string; dealId: string; status: 'pending' | 'applied'; requester?: string },
) {
  return db.transaction().execute(async (trx) => {
    await recordChangeRequest(trx, {
      id,
      runId: `run-${id}`,
      requestedBy: { name: requester, roles: ['operator'] },
      reason: 'not executed',
      changes: [
        {
          kind: 'deal_release',
          target: dealId,
          before: 'needs_reconciliation',
          after: 'released',
          direction: 'loosen',
          why: [`releases deal ${dealId}`],
        },
      ],
      required: [{ roles: ['risk_officer'] }, { roles: ['manager'] }],
      status: 'pending',
      applyAt: null,
      expiresAt: new Date('2100-01-01T00:00:00Z'),
      createdAt: new Date(),
    });
    if (status === 'applied')
      await trx
        .updateTable('change_request')
        .set({ status: 'applied', applied_at: new Date() })
        .where('id', '=', id)
        .execute();
  });
}

/**
 * What a history spends on patches: the ids of its patch markers, in order, and its search-attribute
 * upserts (the SDK adds one per patch; each is a visibility write on the server).
 */
export function patchCost(history: temporal.api.history.v1.IHistory): { patches: string[]; upserts: number } {
  const events = history.events ?? [];
  const patches = events.flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
  });
  const upserts = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length;
  return { patches, upserts };
}

/** The local activities a history ran, in order (their markers' activity types). */
export function localActivities(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['data']?.payloads?.[0]?.data;
    if (e.markerRecordedEventAttributes?.markerName !== 'core_local_activity' || !data) return [];
    return [(JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type];
  });
}
