import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot, toolPaths } from '../../src/config/paths';

// Issue 14 item 9: the production-like stack's defaults, read from the files
// (no Docker engine runs here). docker-compose.yml is parsed as Compose reads
// it, YAML merge keys included; its ${VAR:?…} references stay unresolved text.
const read = (...parts: string[]) => readFileSync(path.join(projectRoot, ...parts), 'utf8');

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  secrets?: string[];
  entrypoint?: string[];
  depends_on?: Record<string, { condition: string }>;
  networks?: { default?: { aliases?: string[] } };
}
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { environment?: string; file?: string }>;
};
const services = compose.services;
const service = (name: string): Service => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};
const environment = (name: string) => service(name).environment ?? {};

/** `NAME=value` lines of .env.example, comments and blank lines left out. */
const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    }),
);
// What Compose interpolates: every ${…} outside the comments.
const interpolations = [...composeText.replace(/^\s*#.*$/gm, '').matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!);
const required = (name: string) => new RegExp(`^\\$\\{${name}:\\?[^}]+\\}`);

describe('docker-compose.yml: production defaults', () => {
  it('publishes no database, Temporal frontend, API or metrics port: only the UI and Grafana, on loopback', () => {
    const published = Object.fromEntries(
      Object.entries(services)
        .filter(([, s]) => s.ports !== undefined)
        .map(([name, s]) => [name, s.ports]),
    );
    expect(published).toEqual({ 'temporal-ui': ['127.0.0.1:8233:8080'], grafana: ['127.0.0.1:3000:3000'] });
    // Warden's API and metrics are for the compose network: Prometheus and Alertmanager find them as `warden`.
    expect(service('warden-worker')).toMatchObject({
      expose: ['8080', '9464', '9465'],
      networks: { default: { aliases: ['warden'] } },
    });
  });

  it('takes every secret from .env, refuses to start without it, and lists each in .env.example with no value', () => {
    // Every reference is ${VAR:?message}: never a default (${VAR:-…}), never silently empty (${VAR}).
    expect(interpolations.length).toBeGreaterThan(5);
    expect(interpolations.filter((ref) => !/^\w+:\?\S/.test(ref))).toEqual([]);
    const names = new Set(interpolations.map((ref) => ref.split(':')[0]!));
    for (const secret of Object.values(compose.secrets)) if (secret.environment) names.add(secret.environment);
    expect(Object.keys(envExample).sort()).toEqual([...names].sort());
    expect(Object.entries(envExample).filter(([, value]) => value !== '')).toEqual([]);
    // A secret's value is always a reference, in every service.
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|PWD|SECRET|PRIVATE_KEY|RECEIVERS|DATABASE_URL/.test(key))
          expect(value, `${name} ${key}`).toContain('${');
      }
    }
    expect(environment('warden-worker').DATABASE_URL).toMatch(
      /^postgres:\/\/warden:\$\{WARDEN_DB_PASSWORD:\?[^}]+\}@postgresql:5432\/warden$/,
    );
    for (const file of ['docker-compose.yml', 'deploy/postgres-init.sh', 'infra/alertmanager/alertmanager.yml']) {
      expect(read(file), file).not.toMatch(/change-me|admin\/admin|PASSWORD '/);
    }
    // The filled-in .env stays out of git and out of the image's build context.
    expect(read('.gitignore').split('\n')).toContain('.env');
    expect(read('.dockerignore').split('\n')).toContain('.env');
  });

  it('runs Warden with WARDEN_ENV=production, in the namespace and on the queue the set-up job prepares', () => {
    const warden = environment('warden-worker');
    expect(warden).toMatchObject({ WARDEN_ENV: 'production', TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(warden.WARDEN_APPROVAL_PRIVATE_KEY).toMatch(required('WARDEN_APPROVAL_PRIVATE_KEY'));
    expect(warden.WARDEN_APPROVAL_PUBLIC_KEYS).toMatch(required('WARDEN_APPROVAL_PUBLIC_KEYS'));
    const setup = environment('temporal-setup');
    expect(setup.WARDEN_NAMESPACE).toBe(warden.TEMPORAL_NAMESPACE);
    expect(setup.WARDEN_TASK_QUEUE).toBe(warden.WARDEN_TASK_QUEUE);
    expect(service('warden-worker').depends_on).toMatchObject({
      postgresql: { condition: 'service_healthy' },
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
    // The set-up job creates Warden's namespace and the `warden` Nexus endpoint aimed at it.
    expect(read('deploy/temporal-setup.sh')).toMatch(
      /nexus endpoint create --name warden \\\n\s+--target-namespace "\$WARDEN_NAMESPACE" --target-task-queue "\$WARDEN_TASK_QUEUE"/,
    );
  });

  it('runs temporalio/server with an admin-tools schema job, at the versions the tests run, and no auto-setup', async () => {
    const { stdout } = await promisify(execFile)(toolPaths.temporal, ['--version']);
    const [, server, ui] = /\(Server (\S+), UI (\S+)\)/.exec(stdout) ?? [];
    expect(server, stdout).toBeDefined();
    expect(service('temporal').image).toBe(`temporalio/server:${server}`);
    expect(service('temporal-schema').image).toBe(`temporalio/admin-tools:${server}`);
    expect(service('temporal-setup').image).toBe(`temporalio/admin-tools:${server}`);
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${ui}`);
    expect(composeText).not.toContain('auto-setup');
    // The server starts only after the schema job succeeded; the job sets up both stores on PostgreSQL.
    expect(service('temporal').depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(environment('temporal-schema')).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(environment('temporal')).toMatchObject(environment('temporal-schema'));
    expect(service('temporal-schema').entrypoint).toEqual(['/bin/sh', '/deploy/temporal-schema.sh']);
    const schema = read('deploy/temporal-schema.sh');
    expect(schema).toContain('setup-schema -v 0.0');
    expect(schema).toContain('update-schema -d "/etc/temporal/schema/postgresql/v12/$store/versioned"');
    expect(schema).toContain('for store in temporal visibility');
  });

  it('builds the worker on a Node LTS image (22 or 24)', () => {
    expect(service('warden-worker').build).toBe('.');
    expect(read('Dockerfile')).toMatch(/^FROM node:(22|24)-/m);
  });

  it("hands Alertmanager its bearer secret as a file, the same secret Warden's receiver is given", () => {
    const alertmanager = parse(read('infra', 'alertmanager', 'alertmanager.yml')) as {
      receivers: { name: string; webhook_configs: { http_config: { authorization: Record<string, string> } }[] }[];
    };
    const authorization = alertmanager.receivers.find((r) => r.name === 'warden')!.webhook_configs[0]!.http_config
      .authorization;
    expect(authorization).toEqual({ type: 'Bearer', credentials_file: '/run/secrets/alertmanager-bearer' });
    expect(service('alertmanager').secrets).toEqual(['alertmanager-bearer']);
    const variable = compose.secrets['alertmanager-bearer']?.environment;
    expect(variable).toBe('WARDEN_ALERTMANAGER_SECRET');
    expect(environment('warden-worker').WARDEN_ALERTMANAGER_RECEIVERS).toMatch(
      new RegExp(`^warden=\\$\\{${variable}:\\?[^}]+\\}$`),
    );
  });
});
