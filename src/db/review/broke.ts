import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AuditKind } from '../../domain/audit/kinds';
import type { Database } from '../database';
import { auditListed, type Listed, listed, readDetails, REVIEW_LIST_LIMIT, type ReviewPeriod } from './shared';

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
