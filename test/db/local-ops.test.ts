import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { listAuditEvents } from '../../src/db/audit.repository';
import { listRiskPolicies } from '../../src/db/risk.repository';
import { connectLocalOps, serveLocalOps } from '../../src/operator/cli/local-ops';
import { httpTransport, OperationFailed } from '../../src/operator/cli/transport';
import { lazyClient } from '../../src/temporal/connection';
import { createTestDatabase, type TestDatabase } from '../helpers';

// With the embedded database, `warden` without a key runs its operations through the running Warden, as
// the local owner: the same operations, RBAC and validation as the API's, behind a per-start token.
describe('local ops endpoint', () => {
  let t: TestDatabase;
  let ops: { close(): Promise<void> };
  let deps: Parameters<typeof serveLocalOps>[0];
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-ops-'));
  const remote = () => {
    const local = connectLocalOps(dir)!;
    return httpTransport(local.url, local.token);
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const config = loadConfig({});
    // Never connected: these operations read and write the database only.
    const temporal = await lazyClient(config.temporal);
    deps = { db: t.db, temporal, warden: new WardenClient(temporal), config, registry: new Registry() };
    ops = await serveLocalOps(deps, dir);
  });
  afterAll(async () => {
    await ops.close();
    await deps.temporal.connection.close();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs operations as the local owner: the same answers as the database, writes audited as local-owner', async () => {
    expect(await remote().call('risk.policies', {})).toEqual(await listRiskPolicies(t.db));
    await remote().call('readiness.attest', { item: 'eval_coverage', passed: true, note: 'suite at 93%' });
    expect(await listAuditEvents(t.db, { kind: 'readiness.attested' })).toMatchObject([
      { actor: 'local-owner', subject: 'checklist:eval_coverage' },
    ]);
    expect(await remote().call('audit.verify', {})).toMatchObject({ ok: true, events: 1 });
  });

  it('refuses a caller without the token, bad input naming the field, and an unknown operation', async () => {
    const { port } = JSON.parse(readFileSync(path.join(dir, 'ops.json'), 'utf8'));
    const response = await fetch(`http://127.0.0.1:${port}/operations/risk.policies`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    const bad = await remote()
      .call('readiness.attest', { item: 'warp_drive', passed: true })
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(OperationFailed);
    expect(bad).toMatchObject({ status: 400, message: expect.stringMatching(/^body\.item: expected one of /) });
    expect(
      await remote()
        .call('readiness.attest', { item: 'eval_coverage', passed: false, actor: 'mallory' } as never)
        .catch((e: unknown) => e),
    ).toMatchObject({ status: 400, message: 'body.actor: unknown field' });
    expect(
      await remote()
        .call('no.such' as never, {})
        .catch((e: unknown) => e),
    ).toMatchObject({ status: 404 });
    expect(await listAuditEvents(t.db, { kind: 'readiness.attested' })).toHaveLength(1);
  });

  it('is absent once closed', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'warden-ops-'));
    const server = await serveLocalOps(deps, other);
    await server.close();
    expect(connectLocalOps(other)).toBeUndefined();
    rmSync(other, { recursive: true, force: true });
  });
});
