import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../src/db/audit.repository';
import { Registry } from 'prom-client';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { openDatabase } from '../../src/db/connect';
import { serveLocalOps } from '../../src/operator/cli/local-ops';
import { lazyClient } from '../../src/temporal/connection';
import { listRiskPolicies } from '../../src/db/risk.repository';
import { allows, type Permission, ROLES } from '../../src/domain/identity/roles';
import { OPERATIONS } from '../../src/operator/operations';
import { type CliApi, closedPort, serveCliApi, wardenCli } from '../support/processes';
import { createTestDatabase, devServerAddress, type TestDatabase, uniqueName } from '../helpers';

// Issue 14 item 5: the CLI acts only as an authenticated identity, and RBAC, rate limits and audit are the
// API's for every command. No worker runs here: every call below is refused, or only reads.
describe('the warden CLI acts as the identity of its key', () => {
  let t: TestDatabase;
  let client: Client;
  let api: CliApi;
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-cli-identity-'));
  const taskQueue = uniqueName('cli-identity');
  const post = (key: string | undefined, name: string, body: unknown) =>
    fetch(`${api.url}/operations/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
  // No key from the environment and no profile: HOME is a folder of the test's own.
  const noIdentity = { HOME: dir, WARDEN_API_KEY: undefined, WARDEN_API_URL: undefined, WARDEN_PROFILE: undefined };
  const riskState = async () => ({
    policies: await listRiskPolicies(t.db),
    audited: (await listAuditEvents(t.db, { kind: 'risk.policy_set' })).length,
  });

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address: devServerAddress() }) });
    api = await serveCliApi({ db: t.db, client, taskQueue });
  });
  afterAll(async () => {
    await api?.close();
    await client?.connection.close();
    await t?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('against PostgreSQL without a key it refuses (exit 2) and changes nothing; --actor is gone', async () => {
    const before = await riskState();
    const cli = wardenCli({ ...noIdentity, DATABASE_URL: t.url });
    expect(await cli(['risk', 'set-policy', 'GLOBAL', '--max-daily-exposure', '1'])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^warden: an API key is required: .*\(WARDEN_API_KEY, --key or a profile\)\n$/),
    });
    expect(await cli(['status'], { WARDEN_PROFILE: path.join(dir, 'none.json') })).toMatchObject({
      code: 2,
      stderr: `warden: WARDEN_PROFILE: no profile file ${path.join(dir, 'none.json')}\n`,
    });
    const key = await api.key('ops', ['owner']);
    expect(await cli(['risk', 'policies', '--actor', 'mallory'], { WARDEN_API_KEY: key })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Unknown option '--actor'"),
    });
    expect(await riskState()).toEqual(before);
    // Operator tooling with the database's own credentials still runs in-process.
    expect(await cli(['audit', 'verify'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^audit chain intact/),
    });
    // Keys exist, so no one mints another without one.
    expect(await cli(['keys', 'create', '--identity', 'eve', '--roles', 'owner'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('an API key is required'),
    });
  });

  it('a key with too few roles is refused by the API (403 named, audited) and changes nothing', async () => {
    const analyst = api.cli(await api.key('ana', ['analyst']), { DATABASE_URL: t.url });
    const attested = () => listAuditEvents(t.db, { kind: 'readiness.attested' });
    const before = await attested();
    expect(await analyst(['attest', 'eval_coverage', '--note', 'trust me'])).toMatchObject({
      code: 3,
      stderr: 'warden: forbidden (403): playbook:run is not granted to analyst\n',
    });
    expect(await attested()).toEqual(before);
    expect(await listAuditEvents(t.db, { kind: 'api.request_refused' })).toContainEqual(
      expect.objectContaining({
        actor: 'ana',
        subject: 'route:operation:readiness.attest',
        details: expect.objectContaining({ url: '/operations/readiness.attest', roles: ['analyst'] }),
      }),
    );
    // Reads are the analyst's: the same key lists the risk policies.
    expect(await analyst(['risk', 'policies', '--json'])).toMatchObject({ code: 0 });
  });

  it('every operation is allowed or refused for every role as the one RBAC table says', async () => {
    const keys = Object.fromEntries(await Promise.all(ROLES.map(async (r) => [r, await api.key(`probe-${r}`, [r])])));
    for (const [name, op] of Object.entries(OPERATIONS)) {
      for (const role of ROLES) {
        const key = keys[role] as string;
        // An unknown field: an allowed call stops at validation (400) and runs nothing.
        const { status } = await post(key, name, { probe: true });
        expect([name, role, status]).toEqual([name, role, allows([role], op.permission as Permission) ? 400 : 403]);
      }
    }
    expect(await post(undefined, 'risk.policies', {}).then((r) => r.status)).toBe(401);
  });

  it('a profile file is used only when no one else may read it', async () => {
    const file = path.join(dir, 'profile.json');
    writeFileSync(file, JSON.stringify({ apiUrl: api.url, key: await api.key('pro', ['analyst']) }), { mode: 0o644 });
    chmodSync(file, 0o644);
    const cli = wardenCli({ ...noIdentity, DATABASE_URL: t.url, WARDEN_PROFILE: file });
    expect(await cli(['risk', 'policies'])).toMatchObject({
      code: 2,
      stderr: `warden: profile ${file}: mode 0644 lets others read its key; run chmod 600 ${file}\n`,
    });
    chmodSync(file, 0o600);
    expect(await cli(['risk', 'policies', '--json'])).toMatchObject({ code: 0, stderr: '' });
    writeFileSync(file, JSON.stringify({ apiUrl: 'ftp://x', key: '' }), { mode: 0o600 });
    expect(await cli(['risk', 'policies'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^warden: profile .*: apiUrl: expected an http\(s\) URL; key: required\n$/),
    });
  });

  it('failed authentication is audited by source (never the key) and a source past the limit gets 429 first', async () => {
    const strict = await serveCliApi({ db: t.db, client, taskQueue, authFailuresPerMinute: 3 });
    const failedBefore = (await listAuditEvents(t.db, { kind: 'api.authentication_failed' })).length;
    try {
      const bogus = 'wk_000000000000.c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1zdG9yZWQ';
      expect(await strict.cli(bogus, { DATABASE_URL: t.url })(['risk', 'policies'])).toMatchObject({
        code: 2,
        stderr: 'warden: not authenticated (401): unknown API key\n',
      });
      const call = (key: string | undefined) =>
        fetch(`${strict.url}/operations/risk.policies`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: '{}',
        });
      expect((await call(undefined)).status).toBe(401);
      expect((await call('not-a-key')).status).toBe(401);
      // Past 3 failures in the minute: refused before any key lookup, even with a valid key.
      const good = await strict.key('good', ['owner']);
      const limited = await call(good);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.json()).toMatchObject({
        error: 'rate_limited',
        message: expect.stringContaining('127.0.0.1'),
      });
      // The other API (its own limiter) still serves the same key.
      expect((await post(good, 'risk.policies', {})).status).toBe(200);

      const failures = await listAuditEvents(t.db, { kind: 'api.authentication_failed', limit: 3 });
      expect((await listAuditEvents(t.db, { kind: 'api.authentication_failed' })).length - failedBefore).toBe(3);
      expect(failures[0]).toMatchObject({
        actor: 'unauthenticated',
        subject: 'source:127.0.0.1',
        details: { source: '127.0.0.1', method: 'POST', url: '/operations/risk.policies', reason: expect.any(String) },
      });
      expect(JSON.stringify(failures)).not.toContain('c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1zdG9yZWQ');
      expect(JSON.stringify(failures)).not.toContain('not-a-key');
    } finally {
      await strict.close();
    }
  });
});

describe('without a key on the embedded database, the CLI is the local owner', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-local-owner-'));
  const cli = wardenCli({
    HOME: dataDir,
    DATABASE_URL: undefined,
    WARDEN_DATA_DIR: dataDir,
    WARDEN_API_KEY: undefined,
    WARDEN_PROFILE: undefined,
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('answers on a fresh data folder, its embedded database brought up to date first', async () => {
    const fresh = mkdtempSync(path.join(tmpdir(), 'warden-fresh-'));
    try {
      const onFresh = wardenCli({
        HOME: fresh,
        DATABASE_URL: undefined,
        WARDEN_DATA_DIR: fresh,
        WARDEN_API_KEY: undefined,
        WARDEN_PROFILE: undefined,
      });
      const ledger = await onFresh(['risk', 'ledger', '--json']);
      expect(ledger).toMatchObject({ code: 0, stderr: 'warden: acting as the local owner (embedded database)\n' });
      expect(JSON.parse(ledger.stdout)).toMatchObject({ day: expect.any(String) });
      expect(await onFresh(['audit', 'verify'])).toMatchObject({ code: 0 });
      // Before `npm start` there is no Temporal to ask: said so, with the address tried.
      const port = await closedPort();
      const status = await wardenCli({
        HOME: fresh,
        DATABASE_URL: undefined,
        WARDEN_DATA_DIR: fresh,
        WARDEN_API_KEY: undefined,
        WARDEN_PROFILE: undefined,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      })(['status']);
      expect(status.code).toBe(1);
      expect(status.stderr).toMatch(new RegExp(`Temporal is not reachable \\(.*127\\.0\\.0\\.1:${port}.*npm start`));
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('says so once, and what it writes is audited as local-owner, in-process or through the running Warden', async () => {
    expect(await cli(['migrate'])).toMatchObject({ code: 0 });
    const attested = await cli(['attest', 'eval_coverage', '--note', 'walked through it']);
    expect(attested).toMatchObject({ code: 0, stderr: 'warden: acting as the local owner (embedded database)\n' });
    // As `npm start` does: this process holds the embedded database and serves its local ops endpoint.
    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    const config = loadConfig({ WARDEN_DATA_DIR: dataDir });
    const temporal = await lazyClient(config.temporal);
    const deps = { db: database.db, temporal, warden: new WardenClient(temporal), config, registry: new Registry() };
    const ops = await serveLocalOps(deps, dataDir);
    try {
      expect(await cli(['attest', 'eval_coverage', '--passed', 'false'])).toMatchObject({
        code: 0,
        stderr: 'warden: acting as the local owner (embedded database)\n',
      });
      expect(await listAuditEvents(database.db, { kind: 'readiness.attested' })).toMatchObject([
        { actor: 'local-owner', details: expect.objectContaining({ passed: false }) },
        { actor: 'local-owner', details: expect.objectContaining({ passed: true }) },
      ]);
    } finally {
      await ops.close();
      await temporal.connection.close();
      await database.close();
    }
  });
});
