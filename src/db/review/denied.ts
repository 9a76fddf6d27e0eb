import { type Kysely, sql } from 'kysely';
import { AuditKind } from '../../domain/audit/kinds';
import { CONTROL_PLANE_REFUSAL_KIND, CONTROL_PLANE_REJECTION_KIND } from '../../domain/control-plane/rules';
import type { Database } from '../database';
import { count, type ReviewPeriod } from './shared';

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
