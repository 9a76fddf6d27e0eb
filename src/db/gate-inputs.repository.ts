import { type Kysely, sql } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { CommandRecord, GateRecords } from '../domain/change-requests/replay-inputs';
import { CONTROL_PLANE_SUBJECT } from '../domain/control-plane/rules';
import type { ExecutionClass } from '../domain/control-plane/types';
import type { Database } from './database';

// The rows `warden policy plan` replays, read as they are: deal claims, risk events, recommendations and
// sandbox trials, the kill switch's audit trail, pause restrictions, command records and their audit events.
// Each query is bounded by the window; src/domain/change-requests/replay-inputs.ts puts them together.

const iso = (d: Date) => d.toISOString();

export async function readGateRecords(
  db: Kysely<Database>,
  window: { from: string; to: string },
): Promise<GateRecords> {
  const from = new Date(window.from);
  const to = new Date(window.to);
  const [claims, riskEvents, assertions, trials, killSwitch, now, pauses, commands, classes] = await Promise.all([
    db
      .selectFrom('deal_claim')
      .select(['deal_id', 'created_at', 'terms', 'result', 'admission'])
      .where('created_at', '>=', from)
      .where('created_at', '<=', to)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('risk_event')
      .select([
        'idempotency_key',
        'kind',
        'ok',
        'at',
        'amount',
        sql<string | null>`details->>'realizedLoss'`.as('loss'),
      ])
      .where('at', '>=', from)
      .where('at', '<=', to)
      .where('idempotency_key', 'like', 'deal:%')
      .execute(),
    db
      .selectFrom('audit_event')
      .select(['subject', 'idempotency_key'])
      .where('kind', 'in', [AuditKind.heimdall.prodEligible, AuditKind.heimdall.prodIneligible])
      .where('at', '>=', from)
      .where('at', '<=', to)
      .execute(),
    db
      .selectFrom('heimdall_sandbox_trial')
      .select(['domain', 'at', 'success', 'confidence'])
      .where('at', '>=', from)
      .where('at', '<=', to)
      .execute(),
    db
      .selectFrom('audit_event')
      .select([
        'at',
        sql<string | null>`details->'before'->>'killSwitchEngaged'`.as('before'),
        sql<string | null>`details->'after'->>'killSwitchEngaged'`.as('after'),
      ])
      .where('subject', '=', CONTROL_PLANE_SUBJECT)
      .where('at', '>=', from)
      .where('at', '<=', to)
      .where(
        sql<boolean>`details->'before'->'killSwitchEngaged' is distinct from details->'after'->'killSwitchEngaged'`,
      )
      .orderBy('id')
      .execute(),
    db.selectFrom('control_plane_state').select('kill_switch_engaged').where('id', '=', 1).executeTakeFirst(),
    db
      .selectFrom('engine_restriction')
      .select(['engine', 'created_at', 'cleared_at'])
      .where('kind', '=', 'pause')
      .where('created_at', '<=', to)
      .where((eb) => eb.or([eb('cleared_at', 'is', null), eb('cleared_at', '>=', from)]))
      .execute(),
    db
      .selectFrom('command_record as c')
      .leftJoin('audit_event as a', (join) =>
        join.on('a.idempotency_key', '=', sql<string>`'command:' || c.command_id`),
      )
      .select([
        'c.command_id',
        'c.command_type',
        'c.at',
        'c.autonomous',
        'c.status',
        'c.approval',
        'c.approver',
        'c.role',
        sql<string | null>`a.details->>'executionClass'`.as('execution_class'),
        sql<string | null>`a.details->'denial'->>'reason'`.as('denial_reason'),
      ])
      .where('c.at', '>=', from)
      .where('c.at', '<=', to)
      .execute(),
    db.selectFrom('command_policy').select(['command_type', 'execution_class']).execute(),
  ]);

  const recommendations = await readRecommendations(db, [
    ...new Set([
      ...claims.flatMap((c) => c.admission?.recommendationId ?? []),
      ...assertions.map((a) => a.subject.replace(/^recommendation:/, '')),
    ]),
  ]);
  return {
    from: window.from,
    to: window.to,
    claims: claims.map((c) => ({
      dealId: c.deal_id,
      createdAt: iso(c.created_at),
      terms: c.terms,
      result: c.result,
      admission: c.admission,
    })),
    riskEvents: riskEvents.map((e) => ({
      key: e.idempotency_key,
      kind: e.kind,
      ok: e.ok,
      at: iso(e.at),
      amount: Number(e.amount),
      realizedLoss: e.loss === null ? null : Number(e.loss),
    })),
    // The prod gate's audit event is keyed `heimdall-assert:deal:<dealId>`.
    recommendationOfDeal: Object.fromEntries(
      assertions.flatMap((a) => {
        const dealId = a.idempotency_key?.match(/^heimdall-assert:deal:(.+)$/)?.[1];
        return dealId ? [[dealId, a.subject.replace(/^recommendation:/, '')]] : [];
      }),
    ),
    recommendations,
    trials: trials.map((t) => ({ domain: t.domain, at: iso(t.at), success: t.success, confidence: t.confidence })),
    killSwitch: {
      changes: killSwitch.map((k) => ({ at: iso(k.at), before: k.before === 'true', after: k.after === 'true' })),
      now: now?.kill_switch_engaged ?? false,
    },
    pauses: pauses.map((p) => ({
      engine: p.engine,
      from: iso(p.created_at),
      until: p.cleared_at === null ? null : iso(p.cleared_at),
    })),
    commands: commands.map((c): CommandRecord => ({
      commandId: c.command_id,
      commandType: c.command_type,
      at: iso(c.at),
      autonomous: c.autonomous,
      status: c.status,
      approval: c.approval,
      approver: c.approver,
      role: c.role,
      executionClass: c.execution_class as ExecutionClass | null,
      denialReason: c.denial_reason,
    })),
    commandClasses: Object.fromEntries(classes.map((c) => [c.command_type, c.execution_class])),
  };
}

async function readRecommendations(
  db: Kysely<Database>,
  ids: string[],
): Promise<Record<string, { domain: string; confidence: number }>> {
  if (ids.length === 0) return {};
  const rows = await db
    .selectFrom('heimdall_recommendation')
    .select(['id', 'domain', 'confidence'])
    .where('id', 'in', ids)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.id, { domain: r.domain, confidence: Number(r.confidence) }]));
}
