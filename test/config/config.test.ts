import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index';
import { DEFAULT_CHANGE_APPROVALS } from '../../src/domain/change-requests/approvals';
import { testApprovalKeys } from '../support/approval-keys';

const keys = testApprovalKeys();

describe('loadConfig', () => {
  it('a webhook secret is a Standard Webhooks one, and production signs every webhook body', () => {
    expect(() => loadConfig({ WARDEN_WEBHOOK_SECRET: 'hunter2' })).toThrow(
      /^invalid WARDEN_WEBHOOK_SECRET: expected a Standard/,
    );
    const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
    expect(loadConfig({ WARDEN_WEBHOOK_SECRET: secret }).webhookSecret).toBe(secret);
    expect(() =>
      loadConfig({
        WARDEN_ENV: 'production',
        WARDEN_WEBHOOKS: 'ops=https://hooks.example/ops',
        ...keys.env,
      }),
    ).toThrow(/^invalid WARDEN_WEBHOOK_SECRET: required in production/);
    expect(
      loadConfig({
        WARDEN_ENV: 'production',
        WARDEN_WEBHOOKS: 'ops=https://hooks.example/ops',
        WARDEN_WEBHOOK_SECRET: secret,
        ...keys.env,
      }).webhookSecret,
    ).toBe(secret);
  });

  it('reads the Temporal connection as every Temporal tool does: a profile in a config file, TEMPORAL_* over it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-envconfig-'));
    const file = path.join(dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.prod]',
        'address = "prod.example:7233"',
        'namespace = "warden-prod"',
        '[profile.prod.tls]',
        'server_name = "temporal.internal"',
      ].join('\n'),
    );
    const prod = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }).temporal;
    expect(prod).toMatchObject({ address: 'prod.example:7233', namespace: 'warden-prod' });
    expect(prod.standard.tls).toMatchObject({ serverNameOverride: 'temporal.internal' });
    // A variable overrides its profile; a profile that is not there is an error naming the variable.
    expect(
      loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'other' }).temporal
        .namespace,
    ).toBe('other');
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /^invalid TEMPORAL_CONFIG_FILE: /,
    );
    // Without a profile: the embedded dev server, namespace default.
    expect(loadConfig({}).temporal).toMatchObject({ address: undefined, namespace: 'default' });
  });

  it('refuses an unknown WARDEN_* variable, naming it and the setting it was likely meant to be', () => {
    expect(() => loadConfig({ WARDEN_API_PROT: '8080' })).toThrow(
      /^unknown WARDEN_API_PROT: Warden has no such setting \(did you mean WARDEN_API_PORT\?\)/,
    );
    expect(() => loadConfig({ WARDEN_SOMETHING_ELSE_ENTIRELY: '1' })).toThrow(
      /^unknown WARDEN_SOMETHING_ELSE_ENTIRELY: [^(]*$/,
    );
    // The CLI's and the set-up's own variables are known; other prefixes are not Warden's to judge.
    expect(() => loadConfig({ WARDEN_API_URL: 'http://x', WARDEN_TOOLS_DIR: '/t', OTHER_THING: '1' })).not.toThrow();
  });

  it('defaults to the embedded set-up', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      temporal: {
        address: undefined,
        namespace: 'default',
        taskQueue: 'warden',
        tls: undefined,
        apiKey: undefined,
        standard: {},
      },
      databaseUrl: undefined,
      dataDir: path.resolve('.data'),
      workflowBundlePath: undefined,
      temporalPort: 7233,
      uiPort: 8233,
      metricsPort: 9464,
      governor: { maxPerHour: 3, maxPer5Min: 2, permitTtlSeconds: 60, executorTimeoutSeconds: 60, autoDisarm: true },
      // No fake fills in production: the simulated executors only when asked for.
      simulatedExecutors: false,
      watchdogs: {
        tripwireEvery: '5m',
        canaryEvery: '60s',
        canaryThreshold: 3,
        canaryAction: 'KILL_SWITCH',
        httpProbes: [],
        governanceCycleCron: '0 23 * * 5',
        weeklyGovernanceCron: '0 0 * * 1',
      },
      environment: 'dev',
      apiPort: 8080,
      workerMetricsPort: 9465,
      rateLimitPerMinute: 120,
      capitalBands: { B: 0.25, C: 0.5, D: 0.75 },
      // Safe defaults: a 15-minute cooldown, and the engager may not approve the release.
      killSwitch: { cooldown: '15m', approvals: 1 },
      // Signed approvals only when asked for, or in production; tokens live 5 minutes.
      approvals: { signed: false, privateKey: undefined, publicKeys: [], tokenTtl: '5m' },
      webhooks: [],
      alertmanagerReceivers: {},
      // Who approves a loosening change request, per kind: the defaults unless WARDEN_CHANGE_APPROVALS says otherwise.
      changeApprovals: DEFAULT_CHANGE_APPROVALS,
    });
  });

  it('reads the operator surface settings', () => {
    const config = loadConfig({
      WARDEN_ENV: 'prod',
      WARDEN_CAPITAL_BANDS: '0.1,0.4,0.9',
      WARDEN_RELEASE_APPROVALS: '2',
      WARDEN_SIGNED_APPROVALS: 'true',
      ...keys.env,
      WARDEN_WEBHOOKS: 'ops=https://hooks.example.com/x',
      WARDEN_ALERTMANAGER_RECEIVERS: 'warden=0123456789abcdef',
    });
    expect(config).toMatchObject({
      environment: 'prod',
      capitalBands: { B: 0.1, C: 0.4, D: 0.9 },
      killSwitch: { approvals: 2 },
      approvals: { signed: true, privateKey: keys.privateKey, publicKeys: keys.publicKeys },
      webhooks: [{ name: 'ops', url: 'https://hooks.example.com/x' }],
      alertmanagerReceivers: { warden: '0123456789abcdef' },
    });
  });

  it('never lets the engager approve a kill-switch release: WARDEN_RELEASE_SELF_APPROVAL=true is refused', () => {
    expect(loadConfig({ WARDEN_RELEASE_SELF_APPROVAL: 'false' }).killSwitch).toEqual({ cooldown: '15m', approvals: 1 });
    expect(() => loadConfig({ WARDEN_RELEASE_SELF_APPROVAL: 'true' })).toThrow(
      /^invalid WARDEN_RELEASE_SELF_APPROVAL: no longer configurable/,
    );
  });

  it('serves the simulated executors only when WARDEN_SIMULATED_EXECUTORS=true', () => {
    expect(loadConfig({ WARDEN_SIMULATED_EXECUTORS: 'true' }).simulatedExecutors).toBe(true);
    expect(loadConfig({ WARDEN_SIMULATED_EXECUTORS: 'false' }).simulatedExecutors).toBe(false);
    expect(() => loadConfig({ WARDEN_SIMULATED_EXECUTORS: 'yes' })).toThrow(
      /^invalid WARDEN_SIMULATED_EXECUTORS: expected true or false/,
    );
  });

  it('takes a log level from WARDEN_LOG_LEVEL, refusing any other word or a control character', () => {
    expect(loadConfig({}).logLevel).toBeUndefined();
    expect(loadConfig({ WARDEN_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    for (const bad of ['loud', 'info\u0000', 'x'.repeat(1_000_000)])
      expect(() => loadConfig({ WARDEN_LOG_LEVEL: bad })).toThrow(
        /^invalid WARDEN_LOG_LEVEL: expected one of fatal, error/,
      );
  });

  it('reads canary probes', () => {
    expect(
      loadConfig({
        WARDEN_CANARY_HTTP_PROBES: 'exchange=https://api.example.com/health, feed=http://localhost:9000/ok',
      }).watchdogs.httpProbes,
    ).toEqual([
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
    expect(config.temporal).toMatchObject({
      address: 'acme.a1b2c.tmprl.cloud:7233',
      namespace: 'acme.a1b2c',
      tls: { certPath: '/certs/client.pem', keyPath: '/certs/client.key' },
    });
    expect(config.databaseUrl).toBe('postgresql://warden:secret@db:5432/warden');
  });

  it.each([
    [{ TEMPORAL_ADDRESS: 'localhost' }, /^invalid TEMPORAL_ADDRESS: expected host:port/],
    [{ DATABASE_URL: 'mysql://x' }, /^invalid DATABASE_URL: expected a postgres/],
    [{ WARDEN_CAPITAL_BANDS: '0.5,0.25,0.75' }, /^invalid WARDEN_CAPITAL_BANDS: expected three ascending fractions/],
    [{ WARDEN_SIGNED_APPROVALS: 'true' }, /^invalid WARDEN_APPROVAL_PUBLIC_KEYS: signed approvals are on/],
    [{ WARDEN_ENV: 'production' }, /^invalid WARDEN_APPROVAL_PUBLIC_KEYS: signed approvals are on/],
    [
      { WARDEN_APPROVAL_SIGNING_KEY: 'k'.repeat(32) },
      /^invalid WARDEN_APPROVAL_SIGNING_KEY: HMAC approval tokens are gone/,
    ],
    [{ WARDEN_APPROVAL_PUBLIC_KEYS: '{"keys":[]}' }, /^invalid WARDEN_APPROVAL_PUBLIC_KEYS: expected a JWKS/],
    [{ WARDEN_APPROVAL_PRIVATE_KEY: '{"kty":"RSA"}' }, /^invalid WARDEN_APPROVAL_PRIVATE_KEY: kty: expected kty OKP/],
    [{ WARDEN_APPROVAL_TOKEN_TTL: '20m' }, /^invalid WARDEN_APPROVAL_TOKEN_TTL: expected 1s to 15m/],
    [{ WARDEN_ALERTMANAGER_RECEIVERS: 'warden=short' }, /^invalid WARDEN_ALERTMANAGER_RECEIVERS: expected name=secret/],
    [{ WARDEN_KILL_SWITCH_COOLDOWN: 'soon' }, /^invalid WARDEN_KILL_SWITCH_COOLDOWN: expected a duration/],
    [{ WARDEN_TASK_QUEUE: 'two words' }, /^invalid WARDEN_TASK_QUEUE:/],
    [
      { TEMPORAL_TLS_CERT: '/c.pem' },
      /^invalid TEMPORAL_TLS_KEY: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be given together/,
    ],
    [{ WARDEN_UI_PORT: '99999' }, /^invalid WARDEN_UI_PORT:/],
    [{ WARDEN_TEMPORAL_PORT: '0' }, /^invalid WARDEN_TEMPORAL_PORT:/],
    [{ WARDEN_AUTO_DISARM: 'yes' }, /^invalid WARDEN_AUTO_DISARM: expected true or false/],
    [{ WARDEN_PERMIT_MAX_PER_5MIN: '0' }, /^invalid WARDEN_PERMIT_MAX_PER_5MIN:/],
    [{ WARDEN_TRIPWIRE_EVERY: 'often' }, /^invalid WARDEN_TRIPWIRE_EVERY: expected a duration/],
    [{ WARDEN_CANARY_HTTP_PROBES: 'exchange=ftp://x' }, /^invalid WARDEN_CANARY_HTTP_PROBES: expected name=http/],
    [{ WARDEN_CHANGE_APPROVALS: '{"risk_policy": []}' }, /^invalid WARDEN_CHANGE_APPROVALS: risk_policy: /],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
