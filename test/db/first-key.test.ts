import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { authenticateApiKey, listApiKeys } from '../../src/db/api-keys.repository';
import { invokeOperation, LOCAL_OWNER, OPERATIONS } from '../../src/operator/operations';
import { lazyClient } from '../../src/temporal/connection';
import { createTestDatabase, type TestDatabase } from '../helpers';

// `warden keys create` makes a key active at once only when it grants no more than its maker may, or when it is
// the deployment's first: then no one holds a key who could approve it, and its maker holds the database.
describe('the first API key', () => {
  let t: TestDatabase;
  let deps: Parameters<typeof invokeOperation>[1];

  beforeAll(async () => {
    t = await createTestDatabase();
    const config = loadConfig({});
    // Never connected: the first key is written without a change request.
    const temporal = await lazyClient(config.temporal);
    deps = { db: t.db, temporal, warden: new WardenClient(temporal), config, registry: new Registry() };
  });
  afterAll(async () => {
    await deps.temporal.connection.close();
    await t.drop();
  });

  it('is active at once, with no change request, and authenticates', async () => {
    const created = (await invokeOperation(OPERATIONS['keys.create'], deps, LOCAL_OWNER, {
      identity: 'bob',
      roles: ['manager'],
    })) as { key: string; view: { active: boolean }; changeRequest: unknown };
    expect(created).toMatchObject({ view: { active: true }, changeRequest: null });
    expect(await authenticateApiKey(t.db, created.key)).toMatchObject({ ok: true, identity: { name: 'bob' } });
    expect(await listApiKeys(t.db)).toEqual([expect.objectContaining({ identity: 'bob', active: true })]);
  });
});
