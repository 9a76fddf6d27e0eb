import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('defaults to the embedded set-up', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      temporal: { address: undefined, namespace: 'default', taskQueue: 'warden', tls: undefined, apiKey: undefined },
      databaseUrl: undefined,
      dataDir: path.resolve('.data'),
      uiPort: 8233,
      metricsPort: 9464,
      governor: { maxPerHour: 3, maxPer5Min: 2, permitTtlSeconds: 60, autoDisarm: true },
      watchdogs: { tripwireEvery: '5m', canaryEvery: '60s', canaryThreshold: 3, httpProbes: [], governanceCycleCron: '0 23 * * 5' },
    });
  });

  it('reads canary probes', () => {
    expect(loadConfig({ WARDEN_CANARY_HTTP_PROBES: 'exchange=https://api.example.com/health, feed=http://localhost:9000/ok' }).watchdogs.httpProbes).toEqual([
      { name: 'exchange', url: 'https://api.example.com/health' },
      { name: 'feed', url: 'http://localhost:9000/ok' },
    ]);
  });

  it('reads a Temporal Cloud set-up', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'acme.a1b2c',
      TEMPORAL_TLS_CERT: '/certs/client.pem',
      TEMPORAL_TLS_KEY: '/certs/client.key',
      DATABASE_URL: 'postgresql://warden:secret@db:5432/warden',
    });
    expect(config.temporal).toMatchObject({ address: 'acme.a1b2c.tmprl.cloud:7233', namespace: 'acme.a1b2c', tls: { certPath: '/certs/client.pem', keyPath: '/certs/client.key' } });
    expect(config.databaseUrl).toBe('postgresql://warden:secret@db:5432/warden');
  });

  it.each([
    [{ TEMPORAL_ADDRESS: 'localhost' }, /^invalid TEMPORAL_ADDRESS: expected host:port/],
    [{ DATABASE_URL: 'mysql://x' }, /^invalid DATABASE_URL: expected a postgres/],
    [{ WARDEN_TASK_QUEUE: 'two words' }, /^invalid WARDEN_TASK_QUEUE:/],
    [{ TEMPORAL_TLS_CERT: '/c.pem' }, /^invalid TEMPORAL_TLS_KEY: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be given together/],
    [{ WARDEN_UI_PORT: '99999' }, /^invalid WARDEN_UI_PORT:/],
    [{ WARDEN_AUTO_DISARM: 'yes' }, /^invalid WARDEN_AUTO_DISARM: expected true or false/],
    [{ WARDEN_PERMIT_MAX_PER_5MIN: '0' }, /^invalid WARDEN_PERMIT_MAX_PER_5MIN:/],
    [{ WARDEN_TRIPWIRE_EVERY: 'often' }, /^invalid WARDEN_TRIPWIRE_EVERY: expected a duration/],
    [{ WARDEN_CANARY_HTTP_PROBES: 'exchange=ftp://x' }, /^invalid WARDEN_CANARY_HTTP_PROBES: expected name=http/],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
