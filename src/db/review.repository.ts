import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { AuditKind, type AuditKindName } from '../domain/audit/kinds';
import { CONTROL_PLANE_REFUSAL_KIND, CONTROL_PLANE_REJECTION_KIND } from '../domain/control-plane/rules';
import { utcDay } from '../domain/risk/rules';
import { policyId } from '../domain/watchdogs/tripwire';
import type { Database } from './database';
import type { GoLivePlaybookRow } from './tables/go-live';

/**
 * The Monday review's SQL: each section's counts and latest rows over one
 * period, mapped to plain JSON. The review itself is put together in
 * src/operator/review/monday-review.ts.
 */
export interface ReviewPeriod {
  since: Date;
  until: Date;
}

export interface Listed<T> {
  count: number;
  /** Newest first, at most REVIEW_LIST_LIMIT. */
  latest: T[];
}

export const REVIEW_LIST_LIMIT = 20;

export interface ReviewBroke {
  killSwitchEngagements: Listed<{ at: string; actor: string; source: string | null; reason: string | null }>;
  tripwireFirings: Listed<{
    at: string;
    policy: string;
    action: string | null;
    baseline: number | null;
    current: number | null;
    dropFraction: number | null;
  }>;
  canaryTrips: Listed<{ at: string; checks: string[] }>;
  breakerEvents: Listed<{
    id: string;
    at: string;
    rule: string;
    action: string;
    severity: string;
    detail: string;
    resolvedAt: string | null;
  }>;
  failedDeals: Listed<{ at: string; dealId: string; error: string | null }>;
  autoDisarms: Listed<{ at: string; symbol: string; reason: string }>;
  failedCommands: Listed<{ at: string; commandId: string; commandType: string; status: string; detail: string | null }>;
  incidents: Listed<{ at: string; severity: string; description: string; commandId: string | null }>;
}

export interface ReviewDenied {
  /** Governed deals that ended denied, by the gate that stopped them. */
  deals: { total: number; byGate: { gate: string; reason: string; count: number }[] };
  /** Each gate's own record, including calls outside a deal. */
  risk: { engine: string; reason: string; count: number }[];
  prodEligibility: { reason: string; count: number }[];
  recommendations: { domain: string; reason: string; count: number }[];
  permits: { reason: string; count: number }[];
  strategyGate: { action: string; count: number }[];
  /** Control-plane changes refused (go-live before the playbook, a release by a non-approver, …), by change. */
  controlPlaneChanges: { change: string; count: number }[];
  commandApprovals: { approval: string; count: number }[];
  rejectedMessages: { kind: string; count: number }[];
}

/** What drifted, as the tables hold it (the strategies' health is read through the strategy repository). */
export interface ReviewDrift {
  tripwires: {
    policy: string;
    baseline: number | null;
    current: number | null;
    dropFraction: number | null;
    triggeredAt: string | null;
  }[];
  strategyDrift: {
    strategyId: string;
    metric: string;
    evaluations: number;
    worst: 'REDUCE_SIZE' | 'PAUSE';
    maxDeviation: number;
    lastAt: string;
  }[];
  strategyChanges: Listed<{ at: string; strategyId: string; change: 'demoted' | 'paused'; reason: string | null }>;
  scorecards: {
    domain: string;
    trials: number;
    successes: number;
    successRate: number | null;
    minSuccessRate: number;
    belowTarget: boolean;
  }[];
}

// Audit details are JSON written by several writers; read only what is needed, tolerantly.
const KillSwitchDetails = z
  .object({ change: z.object({ source: z.string().nullish(), reason: z.string().nullish() }).partial() })
  .partial();
const TripwireDetails = z
  .object({
    policy: z.string(),
    action: z.string().nullish(),
    baseline: z.number().nullish(),
    current: z.number().nullish(),
    dropFraction: z.number().nullish(),
  })
  .partial();
const CanaryDetails = z.object({ tripped: z.array(z.string()) }).partial();
const DealDetails = z
  .object({ result: z.object({ dealId: z.string(), error: z.string().nullish() }).partial() })
  .partial();
const StrategyChangeDetails = z.object({ reason: z.string().nullish() }).partial();
const readDetails = <T>(schema: z.ZodType<T>, value: unknown): Partial<T> => {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : {};
};

const count = (n: string | number | bigint) => Number(n);

async function listed<R, T>(
  total: Promise<{ n: string | number | bigint }>,
  rows: Promise<R[]>,
  map: (row: R) => T,
): Promise<Listed<T>> {
  const [t, r] = await Promise.all([total, rows]);
  return { count: count(t.n), latest: r.map(map) };
}

type AuditRow = { at: Date; actor: string; subject: string; kind: string; details: Record<string, unknown> };

/** Audit events of `kinds` in the period: how many, and the latest. */
async function auditListed<T>(
  db: Kysely<Database>,
  { since, until }: ReviewPeriod,
  kinds: AuditKindName[],
  map: (row: AuditRow) => T,
): Promise<Listed<T>> {
  const base = db
    .selectFrom('audit_event')
    .where('kind', 'in', kinds)
    .where('at', '>=', since)
    .where('at', '<=', until);
  const [total, rows] = await Promise.all([
    base.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    base.select(['at', 'actor', 'subject', 'kind', 'details']).orderBy('id', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
  ]);
  return { count: count(total.n), latest: rows.map(map) };
}

/** What broke: kill-switch engagements, tripwire firings, canary trips, breaker events, failed deals, auto-disarms, failed commands, incidents. */
export async function reviewBroke(db: Kysely<Database>, period: ReviewPeriod): Promise<ReviewBroke> {
  const { since, until } = period;
  const breakers = db.selectFrom('circuit_breaker_event').where('at', '>=', since).where('at', '<=', until);
  const disarms = db.selectFrom('disarm_record').where('at', '>=', since).where('at', '<=', until);
  const failedCommands = db
    .selectFrom('command_record')
    .where('status', 'in', ['failed', 'rolled_back'])
    .where('at', '>=', since)
    .where('at', '<=', until);
  const incidents = db.selectFrom('incident').where('at', '>=', since).where('at', '<=', until);
  return {
    killSwitchEngagements: await auditListed(db, period, [AuditKind.controlPlane.killSwitchEngaged], (r) => {
      const change = readDetails(KillSwitchDetails, r.details).change ?? {};
      return { at: r.at.toISOString(), actor: r.actor, source: change.source ?? null, reason: change.reason ?? null };
    }),
    tripwireFirings: await auditListed(db, period, [AuditKind.tripwire.triggered], (r) => {
      const d = readDetails(TripwireDetails, r.details);
      return {
        at: r.at.toISOString(),
        policy: d.policy ?? r.subject.replace(/^tripwire:/, ''),
        action: d.action ?? null,
        baseline: d.baseline ?? null,
        current: d.current ?? null,
        dropFraction: d.dropFraction ?? null,
      };
    }),
    canaryTrips: await auditListed(db, period, [AuditKind.canary.tripped], (r) => ({
      at: r.at.toISOString(),
      checks: readDetails(CanaryDetails, r.details).tripped ?? [],
    })),
    breakerEvents: await listed(
      breakers.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      breakers.selectAll().orderBy('id', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
      (e) => ({
        id: String(e.id),
        at: e.at.toISOString(),
        rule: e.rule_name,
        action: e.action,
        severity: e.alert_severity,
        detail: e.detail,
        resolvedAt: e.resolved_at?.toISOString() ?? null,
      }),
    ),
    failedDeals: await auditListed(db, period, [AuditKind.deal.failed], (r) => {
      const result = readDetails(DealDetails, r.details).result ?? {};
      return {
        at: r.at.toISOString(),
        dealId: result.dealId ?? r.subject.replace(/^deal:/, ''),
        error: result.error ?? null,
      };
    }),
    autoDisarms: await listed(
      disarms.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      disarms.selectAll().orderBy('at', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
      (d) => ({ at: d.at.toISOString(), symbol: d.symbol, reason: d.reason }),
    ),
    failedCommands: await listed(
      failedCommands.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      failedCommands.selectAll().orderBy('at', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
      (c) => ({
        at: c.at.toISOString(),
        commandId: c.command_id,
        commandType: c.command_type,
        status: c.status,
        detail: c.detail,
      }),
    ),
    incidents: await listed(
      incidents.select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      incidents.selectAll().orderBy('at', 'desc').limit(REVIEW_LIST_LIMIT).execute(),
      (i) => ({ at: i.at.toISOString(), severity: i.severity, description: i.description, commandId: i.command_id }),
    ),
  };
}

/** What was denied, counted per gate and reason. */
export async function reviewDenied(db: Kysely<Database>, { since, until }: ReviewPeriod): Promise<ReviewDenied> {
  const [
    dealGates,
    riskDenials,
    ineligible,
    recommendations,
    permitBlocks,
    strategyGate,
    refusedChanges,
    commandApprovals,
    rejectedMessages,
  ] = await Promise.all([
    db
      .selectFrom('audit_event')
      .select([
        sql<string>`coalesce(details #>> '{result,gate}', 'unknown')`.as('gate'),
        sql<string>`coalesce(details #>> '{result,reason}', 'unknown')`.as('reason'),
        db.fn.countAll<string>().as('n'),
      ])
      .where('kind', '=', AuditKind.deal.denied)
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy([sql`1`, sql`2`])
      .orderBy(sql`3`, 'desc')
      .execute(),
    db
      .selectFrom('risk_reservation')
      .select(['engine', 'denial_reason', db.fn.countAll<string>().as('n')])
      .where('status', '=', 'denied')
      .where('created_at', '>=', since)
      .where('created_at', '<=', until)
      .groupBy(['engine', 'denial_reason'])
      .orderBy(sql`3`, 'desc')
      .execute(),
    db
      .selectFrom('audit_event')
      .select([sql<string>`coalesce(details ->> 'reason', 'unknown')`.as('reason'), db.fn.countAll<string>().as('n')])
      .where('kind', '=', AuditKind.heimdall.prodIneligible)
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy(sql`1`)
      .orderBy(sql`2`, 'desc')
      .execute(),
    db
      .selectFrom('heimdall_recommendation')
      .select(['domain', 'gate_reason', db.fn.countAll<string>().as('n')])
      .where('prod_eligible', '=', false)
      .where('created_at', '>=', since)
      .where('created_at', '<=', until)
      .groupBy(['domain', 'gate_reason'])
      .orderBy(sql`3`, 'desc')
      .execute(),
    db
      .selectFrom('permit_block')
      .select(['reason', db.fn.countAll<string>().as('n')])
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy('reason')
      .orderBy(sql`2`, 'desc')
      .execute(),
    db
      .selectFrom('governance_log')
      .select(['action', db.fn.countAll<string>().as('n')])
      .where('action', 'not in', ['ALLOW', 'REDUCE_SIZE'])
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy('action')
      .orderBy(sql`2`, 'desc')
      .execute(),
    db
      .selectFrom('audit_event')
      .select([
        sql<string>`coalesce(details #>> '{change,kind}', 'unknown')`.as('change'),
        db.fn.countAll<string>().as('n'),
      ])
      .where('kind', '=', CONTROL_PLANE_REFUSAL_KIND)
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy(sql`1`)
      .orderBy(sql`2`, 'desc')
      .execute(),
    db
      .selectFrom('command_record')
      .select(['approval', db.fn.countAll<string>().as('n')])
      .where('approval', 'in', ['rejected', 'timed_out', 'refused_paused'])
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy('approval')
      .orderBy(sql`2`, 'desc')
      .execute(),
    db
      .selectFrom('audit_event')
      .select(['kind', db.fn.countAll<string>().as('n')])
      .where('kind', 'in', [CONTROL_PLANE_REJECTION_KIND, AuditKind.autonomy.messageRejected])
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy('kind')
      .orderBy('kind')
      .execute(),
  ]);
  const dealDenials = dealGates.map((g) => ({ gate: g.gate, reason: g.reason, count: count(g.n) }));
  return {
    deals: { total: dealDenials.reduce((sum, g) => sum + g.count, 0), byGate: dealDenials },
    risk: riskDenials.map((r) => ({ engine: r.engine, reason: r.denial_reason ?? 'unknown', count: count(r.n) })),
    prodEligibility: ineligible.map((r) => ({ reason: r.reason, count: count(r.n) })),
    recommendations: recommendations.map((r) => ({ domain: r.domain, reason: r.gate_reason, count: count(r.n) })),
    permits: permitBlocks.map((p) => ({ reason: p.reason, count: count(p.n) })),
    strategyGate: strategyGate.map((s) => ({ action: s.action, count: count(s.n) })),
    controlPlaneChanges: refusedChanges.map((c) => ({ change: c.change, count: count(c.n) })),
    commandApprovals: commandApprovals.map((c) => ({ approval: c.approval ?? 'unknown', count: count(c.n) })),
    rejectedMessages: rejectedMessages.map((m) => ({ kind: m.kind, count: count(m.n) })),
  };
}

/** What drifted: fired tripwires, strategy drift and changes, prod-eligibility scorecards against their target. */
export async function reviewDrift(db: Kysely<Database>, period: ReviewPeriod): Promise<ReviewDrift> {
  const { since, until } = period;
  const [tripwires, drift, scorecards] = await Promise.all([
    db
      .selectFrom('regression_state')
      .selectAll()
      .where('triggered', '=', true)
      .orderBy('domain')
      .orderBy('metric')
      .execute(),
    db
      .selectFrom('drift_evaluation')
      .select([
        'strategy_id',
        'metric',
        db.fn.countAll<string>().as('n'),
        sql<boolean>`bool_or(action = 'PAUSE')`.as('paused'),
        db.fn.max('deviation').as('max_deviation'),
        db.fn.max('at').as('last_at'),
      ])
      .where('action', '!=', 'OK')
      .where('at', '>=', since)
      .where('at', '<=', until)
      .groupBy(['strategy_id', 'metric'])
      .orderBy('strategy_id')
      .orderBy('metric')
      .execute(),
    db
      .selectFrom('heimdall_policy as p')
      .leftJoin('heimdall_scorecard_day as s', (join) =>
        join.onRef('s.domain', '=', 'p.domain').on('s.day', '>=', utcDay(since)).on('s.day', '<=', utcDay(until)),
      )
      .select([
        'p.domain',
        'p.min_sandbox_success_rate',
        sql<string>`coalesce(sum(s.trials), 0)`.as('trials'),
        sql<string>`coalesce(sum(s.successes), 0)`.as('successes'),
      ])
      .groupBy(['p.domain', 'p.min_sandbox_success_rate'])
      .orderBy('p.domain')
      .execute(),
  ]);
  return {
    tripwires: tripwires.map((t) => ({
      policy: policyId(t),
      baseline: t.baseline,
      current: t.current,
      dropFraction: t.drop_fraction,
      triggeredAt: t.triggered_at?.toISOString() ?? null,
    })),
    strategyDrift: drift.map((d) => ({
      strategyId: d.strategy_id,
      metric: d.metric,
      evaluations: count(d.n),
      worst: d.paused ? 'PAUSE' : 'REDUCE_SIZE',
      maxDeviation: Number(d.max_deviation),
      lastAt: new Date(d.last_at).toISOString(),
    })),
    strategyChanges: await auditListed(db, period, [AuditKind.strategy.demoted, AuditKind.strategy.paused], (r) => ({
      at: r.at.toISOString(),
      strategyId: r.subject.replace(/^strategy:/, ''),
      change: r.kind === AuditKind.strategy.demoted ? 'demoted' : 'paused',
      reason: readDetails(StrategyChangeDetails, r.details).reason ?? null,
    })),
    scorecards: scorecards.map((s) => {
      const trials = count(s.trials);
      const successes = count(s.successes);
      const successRate = trials === 0 ? null : successes / trials;
      return {
        domain: s.domain,
        trials,
        successes,
        successRate,
        minSuccessRate: s.min_sandbox_success_rate,
        belowTarget: successRate !== null && successRate < s.min_sandbox_success_rate,
      };
    }),
  };
}

/** The ids of the enabled strategies, in order. */
export async function listEnabledStrategyIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('strategy').select('id').where('enabled', '=', true).orderBy('id').execute();
  return rows.map((r) => r.id);
}

/** Go-live playbooks still in progress, newest first. */
export async function listPlaybooksInProgress(db: Kysely<Database>): Promise<GoLivePlaybookRow[]> {
  return db
    .selectFrom('go_live_playbook')
    .selectAll()
    .where('status', '=', 'in_progress')
    .orderBy('started_at', 'desc')
    .execute();
}
