import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect';
import type { Database } from '../../src/db/database';
import { migrateDown, migrateToLatest } from '../../src/db/migrate';
import { migrations } from '../../src/db/migrations';
import { createTestDatabase, type TestDatabase } from '../helpers';

async function tables(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(db);
  return result.rows.map((r) => r.table_name);
}

const ALL_TABLES = [
  'api_key',
  'approval_token',
  'approval_token_use',
  'audit_event',
  'autonomy_approver',
  'autonomy_phase',
  'canary_check_state',
  'change_request',
  'circuit_breaker_event',
  'circuit_breaker_rule',
  'command_policy',
  'command_record',
  'control_plane_state',
  'deal_claim',
  'disarm_record',
  'drift_baseline',
  'drift_evaluation',
  'engine_restriction',
  'engine_restriction_prior_state',
  'execution_permit',
  'execution_policy',
  'execution_token',
  'expansion_proposal',
  'go_live_playbook',
  'governance_log',
  'governance_report',
  'governance_state',
  'heimdall_policy',
  'heimdall_recommendation',
  'heimdall_sandbox_trial',
  'heimdall_scorecard_day',
  'incident',
  'kpi_event',
  'metrics_snapshot',
  'notification',
  'notification_delivery',
  'operator_session',
  'permit_block',
  'position',
  'position_event',
  'position_exit_hold',
  'proposal_record',
  'rate_limit_window',
  'readiness_assessment',
  'readiness_attestation',
  'regression_policy',
  'regression_state',
  'risk_event',
  'risk_ledger_day',
  'risk_ledger_stripe',
  'risk_policy',
  'risk_reservation',
  'strategy',
  'strategy_outcome',
];

async function upDownUp(db: Kysely<Database>): Promise<void> {
  const names = Object.keys(migrations);
  expect((await migrateToLatest(db)).applied.map((r) => r.name)).toEqual(names);
  expect(await tables(db)).toEqual(ALL_TABLES);
  // Safe defaults in the seeded row.
  expect(await db.selectFrom('control_plane_state').selectAll().executeTakeFirstOrThrow()).toMatchObject({
    go_live_enabled: false,
    kill_switch_engaged: false,
    apply_mode: 'dry_run',
    version: 0,
  });
  expect((await migrateToLatest(db)).applied).toEqual([]);

  const down = await migrateDown(db, { all: true });
  expect(down.applied.map((r) => [r.name, r.direction, r.status])).toEqual(
    names.reverse().map((n) => [n, 'Down', 'Success']),
  );
  expect(await tables(db)).toEqual([]);

  await migrateToLatest(db);
  expect(await tables(db)).toEqual(ALL_TABLES);
}

describe('migrations', () => {
  let pgDb: TestDatabase | undefined;
  const pgliteDir = mkdtempSync(path.join(tmpdir(), 'warden-pglite-'));

  afterAll(async () => {
    await pgDb?.drop();
    rmSync(pgliteDir, { recursive: true, force: true });
  });

  it('go up, down and up again on PostgreSQL', async () => {
    pgDb = await createTestDatabase(false);
    await upDownUp(pgDb.db);
  });

  it('go up, down and up again on embedded PGlite, and the data survives a reopen', async () => {
    const first = await openDatabase({ databaseUrl: undefined, dataDir: pgliteDir });
    try {
      await upDownUp(first.db);
      await first.db.updateTable('control_plane_state').set({ apply_mode: 'testnet' }).execute();
    } finally {
      await first.close();
    }
    const second = await openDatabase({ databaseUrl: undefined, dataDir: pgliteDir });
    try {
      expect(
        (await second.db.selectFrom('control_plane_state').select('apply_mode').executeTakeFirstOrThrow()).apply_mode,
      ).toBe('testnet');
    } finally {
      await second.close();
    }
  });

  it('refuses a constraint-breaking control-plane row', async () => {
    const { db } = pgDb!;
    await expect(
      db
        .updateTable('control_plane_state')
        .set({ apply_mode: 'yolo' as never })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(
      db
        .insertInto('control_plane_state')
        .values({ id: 2 as never })
        .execute(),
    ).rejects.toThrow(/check constraint|duplicate/);
  });
});
