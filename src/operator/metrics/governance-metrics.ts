import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import { Registry } from 'prom-client';
import { dbGauges } from './db-gauge';
import { AuditKind } from '../../domain/audit/kinds';
import { type CommandStatus, computeMetrics } from '../../domain/autonomy/metrics';
import { PHASES } from '../../domain/autonomy/phases';
import type { Database } from '../../db/database';
import { registerStrategyMetrics } from './strategy-metrics';
import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../../domain/capital/bands';
import { registerGovernorMetrics } from './governor-metrics';
import { registerWardenMetrics } from './warden-metrics';
import { registerNotificationMetrics } from './notification-metrics';

const PREFIX = 'simcorp_governance_'; // seed 002's names, so its dashboards and alerts work unchanged
const DAY_MS = 86_400_000;

/**
 * Warden's one registry: seed 002's Prometheus metrics, seed 001's strategy
 * gate, seed 003's governor and Warden's own control-plane series, all read
 * from the database at each scrape.
 */
export function createGovernanceMetrics(
  db: Kysely<Database>,
  options: { capitalBands?: CapitalBandThresholds } = {},
): Registry {
  const registry = new Registry();
  const gauge = dbGauges(registry, PREFIX);

  gauge('current_phase_info', 'Current autonomy phase (1 for the current one)', ['phase'], async (g) => {
    const state = await db.selectFrom('governance_state').select('current_phase').executeTakeFirstOrThrow();
    for (const phase of PHASES) g.set({ phase }, phase === state.current_phase ? 1 : 0);
  });
  gauge('days_since_phase_start', 'Days at the current phase', [], async (g) => {
    const state = await db.selectFrom('governance_state').select('phase_since').executeTakeFirstOrThrow();
    g.set((Date.now() - state.phase_since.getTime()) / DAY_MS);
  });
  const weekly = async () =>
    computeMetrics(
      (
        await db
          .selectFrom('command_record')
          .select(['command_type', 'status', 'approval', 'at'])
          .where('at', '>', new Date(Date.now() - 7 * DAY_MS))
          .execute()
      ).map((r) => ({
        commandType: r.command_type,
        status: r.status,
        approval: r.approval,
        at: r.at,
      })),
    );
  for (const [name, key] of [
    ['command_success_rate', 'successRate'],
    ['command_approval_rate', 'approvalRate'],
    ['command_error_rate', 'errorRate'],
    ['command_rollback_rate', 'rollbackRate'],
  ] as const) {
    gauge(name, `Command ${key} over the last 7 days (0-1)`, [], async (g) => {
      const value = (await weekly())[key];
      if (value !== null) g.set(value);
    });
  }
  gauge('commands_total', 'Command outcomes by status', ['status'], async (g) => {
    const rows = await db
      .selectFrom('command_record')
      .select(['status', db.fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    const names = {
      succeeded: 'succeeded',
      failed: 'failed',
      rejected: 'rejected',
      rolled_back: 'rolledBack',
      denied: 'denied',
      dry_run: 'dryRun',
    } as const satisfies Record<CommandStatus, string>;
    for (const [status, label] of Object.entries(names))
      g.set({ status: label }, Number(rows.find((r) => r.status === status)?.n ?? 0));
  });
  const latestReadiness = async () =>
    (await db.selectFrom('readiness_assessment').select('report').orderBy('id', 'desc').limit(1).executeTakeFirst())
      ?.report as { scoreFraction: number; categories: Record<string, { earned: number }> } | undefined;
  gauge('readiness_score', 'Overall readiness (0-1), latest assessment', [], async (g) => {
    const r = await latestReadiness();
    if (r) g.set(r.scoreFraction);
  });
  for (const category of ['technical', 'process', 'organizational'] as const) {
    gauge(`readiness_${category}_score`, `${category} readiness points earned, latest assessment`, [], async (g) => {
      const r = await latestReadiness();
      if (r) g.set(r.categories[category]?.earned ?? 0);
    });
  }
  gauge(
    'circuit_breaker_events_total',
    'Circuit breaker events',
    ['rule_name', 'action', 'alert_severity'],
    async (g) => {
      const rows = await db
        .selectFrom('circuit_breaker_event')
        .select(['rule_name', 'action', 'alert_severity', db.fn.countAll<string>().as('n')])
        .groupBy(['rule_name', 'action', 'alert_severity'])
        .execute();
      for (const r of rows)
        g.set({ rule_name: r.rule_name, action: r.action, alert_severity: r.alert_severity }, Number(r.n));
    },
  );
  gauge('circuit_breaker_events_unresolved', 'Unresolved circuit breaker events', [], async (g) => {
    const row = await db
      .selectFrom('circuit_breaker_event')
      .select(db.fn.countAll<string>().as('n'))
      .where('resolved_at', 'is', null)
      .executeTakeFirstOrThrow();
    g.set(Number(row.n));
  });
  gauge('incidents_total', 'Incidents by severity', ['severity'], async (g) => {
    const rows = await db
      .selectFrom('incident')
      .select(['severity', db.fn.countAll<string>().as('n')])
      .groupBy('severity')
      .execute();
    for (const severity of ['low', 'medium', 'high', 'critical'])
      g.set({ severity }, Number(rows.find((r) => r.severity === severity)?.n ?? 0));
  });
  // Seed 002's two safety series. A constraint violation is a governed command its gate denied (a limit or a
  // class it may not pass); an emergency abort is a kill-switch engagement, by anyone or any watchdog.
  gauge('safety_constraint_violations_total', 'Governed commands denied by a safety constraint', [], async (g) => {
    const row = await db
      .selectFrom('command_record')
      .select(db.fn.countAll<string>().as('n'))
      .where('status', '=', 'denied')
      .executeTakeFirstOrThrow();
    g.set(Number(row.n));
  });
  gauge('safety_emergency_aborts_total', 'Emergency aborts: kill-switch engagements', [], async (g) => {
    const row = await db
      .selectFrom('audit_event')
      .select(db.fn.countAll<string>().as('n'))
      .where('kind', '=', AuditKind.controlPlane.killSwitchEngaged)
      .executeTakeFirstOrThrow();
    g.set(Number(row.n));
  });
  registerStrategyMetrics(registry, db);
  registerGovernorMetrics(registry, db);
  registerWardenMetrics(registry, db, { capitalBands: options.capitalBands ?? DEFAULT_CAPITAL_BANDS });
  registerNotificationMetrics(registry, db);
  return registry;
}

/** `/metrics` for Prometheus, served by the worker process. */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
