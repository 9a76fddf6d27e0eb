import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataAccess } from '../../src/operator/cli/data-access';
import { connectLocalOps, serveLocalOps } from '../../src/operator/cli/local-ops';
import { createTestDatabase, type TestDatabase } from '../helpers';

// With the embedded database, `warden` reaches the data through the running Warden.
describe('local ops endpoint', () => {
  let t: TestDatabase;
  let ops: { close(): Promise<void> };
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-ops-'));

  beforeAll(async () => {
    t = await createTestDatabase();
    ops = await serveLocalOps(createDataAccess(t.db), dir);
  });
  afterAll(async () => {
    await ops.close();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same answers as the database, and edits through it', async () => {
    const remote = connectLocalOps(dir)!;
    expect(await remote.listRiskPolicies()).toEqual(await createDataAccess(t.db).listRiskPolicies());
    await remote.upsertRiskPolicy(
      { engine: 'ADS', maxDailyLoss: 5, maxDailyExposure: 50, maxOpenRisk: null, maxActionsPerDay: 3, enabled: true },
      'alice',
    );
    expect((await createDataAccess(t.db).listRiskPolicies()).find((p) => p.engine === 'ADS')).toMatchObject({
      maxDailyExposure: 50,
    });
    expect(await remote.verifyAuditChain()).toMatchObject({ ok: true, events: 1 });
  });

  it('refuses a caller without the token, and reports server-side errors', async () => {
    const { port } = JSON.parse(readFileSync(path.join(dir, 'ops.json'), 'utf8'));
    const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: 'POST',
      body: JSON.stringify({ method: 'listRiskPolicies', args: [] }),
    });
    expect(response.status).toBe(401);
    const remote = connectLocalOps(dir)!;
    await expect(
      remote.upsertRiskPolicy(
        {
          engine: 'bad name',
          maxDailyLoss: null,
          maxDailyExposure: null,
          maxOpenRisk: null,
          maxActionsPerDay: null,
          enabled: true,
        },
        'x',
      ),
    ).rejects.toThrow(/answered 500: .*check constraint/);
  });

  it('is absent once closed', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'warden-ops-'));
    const server = await serveLocalOps(createDataAccess(t.db), other);
    await server.close();
    expect(connectLocalOps(other)).toBeUndefined();
    rmSync(other, { recursive: true, force: true });
  });
});
