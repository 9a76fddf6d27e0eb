import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensurePromtool } from '../../scripts/debian-tools.mjs';
import type { Database } from '../../src/db/database';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { WORKER_RUNTIME_METRIC_PREFIX, WORKER_RUNTIME_METRICS } from '../../src/operator/metrics/worker-runtime';
import { projectRoot } from '../../src/config/paths';
import { SERVER_LIMITS } from '../../src/temporal/dev-server';

const run = promisify(execFile);
const infra = (...parts: string[]) => path.join(projectRoot, 'infra', ...parts);
const read = (file: string) => readFileSync(file, 'utf8');

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(ensurePromtool(), args, { cwd: projectRoot });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;
const OPERATORS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords or label names. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(GROUPING, '');
  const names = [...bare.matchAll(/(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((m) => m[1]!);
  return names.filter((n) => !OPERATORS.has(n));
}

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
const coveredBy = (names: ReadonlySet<string>) => (name: string) =>
  names.has(name) || HISTOGRAM_SUFFIXES.some((s) => name.endsWith(s) && names.has(name.slice(0, -s.length)));

interface DashboardPanel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(read(infra('grafana', 'dashboards', 'warden-governance.json'))) as {
  uid: string;
  panels: DashboardPanel[];
};
const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);
const ruleExprs = [...read(infra('prometheus', 'rules', 'warden.rules.yml')).matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) =>
  m[1]!.trim(),
);

// Warden's registry, never scraped here: no query reaches the (absent) database.
const pool = new pg.Pool({ connectionString: 'postgres://unused@127.0.0.1:1/unused' });
const registry = createGovernanceMetrics(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
const wardenSeries = new Set(registry.getMetricsAsArray().map((m) => m.name));
const runtimeSeries = new Set<string>(WORKER_RUNTIME_METRICS);

describe('infra/: Prometheus rules and configuration', () => {
  it('promtool check rules accepts the alert rules', async () => {
    const result = await promtool('check', 'rules', infra('prometheus', 'rules', 'warden.rules.yml'));
    expect(result).toMatchObject({ code: 0, output: expect.stringContaining('SUCCESS: 11 rules found') });
  });

  it('promtool check config accepts prometheus.yml and finds the rules beside it', async () => {
    const result = await promtool('check', 'config', infra('prometheus', 'prometheus.yml'));
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS: 1 rule files found');
  });

  it('the alerts fire on the series Warden exports, with the labels Alertmanager routes on (promtool test rules)', async () => {
    const result = await promtool('test', 'rules', infra('prometheus', 'tests', 'warden.rules.test.yml'));
    expect(result.code, result.output).toBe(0);
  });

  it("keeps seed 002's four recommended alerts with the seed's expressions", () => {
    expect(ruleExprs).toEqual(
      expect.arrayContaining([
        'simcorp_governance_readiness_score < 0.90',
        'simcorp_governance_command_error_rate > 0.05',
        'simcorp_governance_circuit_breaker_events_unresolved > 0',
        'increase(simcorp_governance_incidents_total{severity="critical"}[5m]) > 0',
      ]),
    );
  });

  it('the alert rules use only series Warden exports', () => {
    const unknown = ruleExprs.flatMap(metricNames).filter((n) => !coveredBy(wardenSeries)(n));
    expect(ruleExprs.flatMap(metricNames).length).toBeGreaterThan(8);
    expect(unknown).toEqual([]);
  });
});

describe('infra/: the Grafana dashboard', () => {
  it('finds metric names in PromQL and nothing else', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, activity_type) (rate(temporal_activity_execution_latency_bucket[$__rate_interval])))',
      ),
    ).toEqual(['temporal_activity_execution_latency_bucket']);
    expect(metricNames('max by (band) (warden_capital_band{band="D"}) == 1 and on(job) up offset 5m')).toEqual([
      'warden_capital_band',
      'up',
    ]);
  });

  it("references only series Warden's registry exports, or the worker runtime series it lists", () => {
    const unknown: string[] = [];
    for (const { panel, expr } of dashboardExprs) {
      for (const name of metricNames(expr)) {
        const known = name.startsWith(WORKER_RUNTIME_METRIC_PREFIX)
          ? coveredBy(runtimeSeries)(name)
          : coveredBy(wardenSeries)(name);
        if (!known) unknown.push(`${panel}: ${name}`);
      }
    }
    expect(dashboardExprs.length).toBeGreaterThan(40);
    expect(unknown).toEqual([]);
  });

  it('charts every worker runtime series it lists, and the control plane, decisions, governor, watchdogs and autonomy', () => {
    const used = new Set(dashboardExprs.flatMap((e) => metricNames(e.expr)));
    for (const name of WORKER_RUNTIME_METRICS)
      expect(used.has(name) || HISTOGRAM_SUFFIXES.some((s) => used.has(`${name}${s}`)), name).toBe(true);
    for (const name of [
      'warden_kill_switch_engaged',
      'warden_trading_state',
      'warden_positions_open',
      'warden_deals_unresolved',
      'warden_go_live_enabled',
      'warden_apply_mode',
      'warden_capital_band',
      'warden_capital_usage_ratio',
      'warden_governance_decisions_total',
      'warden_governance_denials_total',
      'quantum_govern_allow_total',
      'quantum_govern_block_total',
      'quantum_govern_disarm_total',
      'warden_tripwire_triggered',
      'warden_canary_check_failing',
      'simcorp_governance_readiness_score',
      'simcorp_governance_current_phase_info',
      'simcorp_governance_circuit_breaker_events_total',
      'simcorp_governance_circuit_breaker_events_unresolved',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it('reads from the provisioned datasource, and the provisioning, dynamic config and compose mounts agree', () => {
    const datasourceUid = /uid:\s*(\S+)/.exec(
      read(infra('grafana', 'provisioning', 'datasources', 'prometheus.yml')),
    )![1];
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe(datasourceUid);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(datasourceUid);
    }
    const composeText = read(path.join(projectRoot, 'docker-compose.yml'));
    const compose = parse(composeText, { merge: true }) as { services: Record<string, { volumes?: string[] }> };
    const mounts = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .filter((v) => v.startsWith('./infra/'))
      .map((v) => {
        const [source, target] = v.split(':');
        return { source: source!.slice(2), target: target! };
      });
    expect(mounts.map((m) => m.source)).toEqual([
      'infra/temporal/dynamicconfig',
      'infra/prometheus',
      'infra/alertmanager',
      'infra/grafana/provisioning',
      'infra/grafana/dashboards',
    ]);
    const dashboardsDir = /path:\s*(\S+)/.exec(read(infra('grafana', 'provisioning', 'dashboards', 'warden.yml')))![1];
    expect(mounts.find((m) => m.source === 'infra/grafana/dashboards')?.target).toBe(dashboardsDir);
    expect(mounts.find((m) => m.source === 'infra/prometheus')?.target).toBe('/etc/prometheus');
    expect(mounts.find((m) => m.source === 'infra/alertmanager')?.target).toBe('/etc/alertmanager');
    expect(composeText).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(composeText).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    // The Temporal server reads the dynamic config file in the mounted folder.
    const dynamicConfig = mounts.find((m) => m.source === 'infra/temporal/dynamicconfig')!.target;
    expect(composeText).toContain(`DYNAMIC_CONFIG_FILE_PATH: ${dynamicConfig}/warden.yaml`);
    // The same server limits as the dev server's, so the stack flushes a signal burst as the tests do.
    expect(parse(read(infra('temporal', 'dynamicconfig', 'warden.yaml')))).toEqual({
      'system.enableNexus': [{ value: true }],
      ...Object.fromEntries(Object.entries(SERVER_LIMITS).map(([key, value]) => [key, [{ value }]])),
    });
  });
});

afterAll(async () => {
  await pool.end();
});
