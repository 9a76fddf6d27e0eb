import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { approveCommandSignal, approveUpdate, commandStatusQuery, rejectCommandSignal, rejectUpdate } from '../../../workflows/messages';
import { type AlertmanagerPayload, AlertmanagerPayloadSchema, planAlertActions } from '../../domain/alerts/alertmanager';
import { commandWorkflowId } from '../../domain/autonomy/commands';
import { type ApproverRole, ApproverRoleSchema } from '../../domain/autonomy/phases';
import { AlreadyRunningError, type WardenClient } from '../../client';
import type { Config } from '../../config/index';
import {
  ApplyModeSchema,
  type ChangeControlPlaneInput,
  type ChangeResult,
  ReasonSchema,
} from '../../domain/control-plane/types';
import { listApiKeys } from '../../db/api-keys.repository';
import { listAuditEvents, recordAuditEvent } from '../../db/audit.repository';
import { listBreakerEvents, listProposals, readGovernanceState } from '../../db/autonomy.repository';
import { readCapitalUsage } from '../../db/capital.repository';
import { readControlPlaneState } from '../../db/control-plane.repository';
import type { Database } from '../../db/database';
import { listOperatorSessions, readPlaybook } from '../../db/go-live.repository';
import { readHealth } from '../../db/health.repository';
import { listScorecards } from '../../db/heimdall.repository';
import { listNotifications } from '../../db/notifications.repository';
import { listPermits } from '../../db/permits.repository';
import { buildReview } from '../../db/review.repository';
import { ledgerReport } from '../../db/risk.repository';
import { listGovernanceLog } from '../../db/strategy.repository';
import { listRestrictions, regressionStates } from '../../db/watchdogs.repository';
import { durationMs } from '../../domain/shared/durations';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID } from '../../domain/go-live/ids';
import { PlaybookStepIdSchema } from '../../domain/go-live/playbook';
import { issueApprovalToken } from '../../security/approval-tokens';
import { AUTONOMY_APPROVER_ROLE, autonomyRolesOf, type Identity, RELEASE_APPROVER_ROLES, type Role, RoleSchema } from '../../domain/identity/roles';
import { SinceSchema } from '../review/since';
import { listWaitingWorkflows } from '../review/waiting-workflows';
import { EngineSchema, utcDay } from '../../domain/risk/rules';
import { ApiError, badRequest, conflict, forbidden, notFound, type Reply, route, type RouteSpec } from './http';

export interface ApiDeps {
  db: Kysely<Database>;
  warden: WardenClient;
  temporal: Client;
  config: Config;
  registry: Registry;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

const Paging = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const AuditPaging = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Events with an id below this one: the next page. */
  before: z.string().regex(/^\d+$/, 'expected an audit event id').optional(),
  kind: z.string().max(200).optional(),
});
const SinceQuery = z.strictObject({ since: SinceSchema.optional() });
const Reason = z.strictObject({ reason: ReasonSchema });
const ReleaseVoteBody = z.strictObject({
  reason: ReasonSchema,
  /** Which approver role to act in, when the key holds several. */
  role: RoleSchema.optional(),
});
const ProposalParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:+-]{1,128}$/, 'expected a proposal id') });
const CommandParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:+-]{1,128}$/, 'expected a command id') });
const SessionParams = z.strictObject({ operator: z.string().min(1).max(200) });

const ChangeResultSchema = z.object({ outcome: z.object({ status: z.enum(['applied', 'pending', 'refused']) }).loose(), state: z.record(z.string(), z.unknown()) });

/** Answers a control-plane change: 200 applied, 202 waiting for more approvals, 409 refused (with the reason). */
function changeReply(result: ChangeResult): Reply {
  if (result.outcome.status === 'refused') throw conflict(result.outcome.reason, { outcome: result.outcome, state: result.state });
  return ok(result, result.outcome.status === 'pending' ? 202 : 200);
}

/** The one approver role a vote is cast in: named in the body, or the key's only one. */
function releaseRole(identity: Identity, requested: Role | undefined): Role {
  const held = identity.roles.filter((r) => RELEASE_APPROVER_ROLES.includes(r));
  if (requested !== undefined) {
    if (!held.includes(requested)) throw forbidden(`role: ${identity.name} does not hold ${requested}`);
    return requested;
  }
  if (held.length > 1) throw badRequest(`body.role: ${identity.name} holds several approver roles (${held.join(', ')}); name one`);
  return held[0]!;
}

/** The autonomy approver role a key acts in: named in the body, or its only one. */
function autonomyRole(identity: Identity, requestedRole: string | undefined): ApproverRole {
  const held = autonomyRolesOf(identity.roles);
  const requested = requestedRole === undefined ? undefined : ApproverRoleSchema.safeParse(requestedRole);
  if (requested && !requested.success) throw badRequest(`body.role: expected one of ${Object.keys(AUTONOMY_APPROVER_ROLE).join(', ')}`);
  const role = requested?.data ?? (held.length === 1 ? held[0] : undefined);
  if (role === undefined) {
    throw held.length === 0 ? forbidden(`${identity.name} holds no autonomy approver role`) : badRequest(`body.role: ${identity.name} may act as ${held.join(', ')}; name one`);
  }
  if (!held.includes(role)) throw forbidden(`role: acting as ${role} needs the ${AUTONOMY_APPROVER_ROLE[role]} role`);
  return role;
}

/** A command decision goes by signal (the public interface); the answer is the command's status once the decision is judged. */
async function commandDecision(deps: ApiDeps, identity: Identity, commandId: string, kind: 'approve' | 'reject', body: { role?: string | undefined; comment?: string | undefined }) {
  const role = autonomyRole(identity, body.role);
  const handle = deps.temporal.workflow.getHandle(commandWorkflowId(commandId));
  try {
    const before = await handle.query(commandStatusQuery);
    if (before.stage !== 'awaiting_approval' || before.decision) throw conflict(`command ${commandId} is not waiting for a decision (stage ${before.stage})`, { command: before });
    await handle.signal(kind === 'approve' ? approveCommandSignal : rejectCommandSignal, { approver: identity.name, role, ...(body.comment ? { comment: body.comment } : {}), ...signedFor(deps, identity) });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const view = await handle.query(commandStatusQuery);
      if (view.decision) return ok(view);
      if (view.rejectedMessages > before.rejectedMessages) throw conflict(`the ${kind} was refused; see the audit log (autonomy.message_rejected, subject command:${commandId})`, { command: view });
      if (Date.now() > deadline) return ok(view, 202);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    throw workflowError(error, `command ${commandId}`);
  }
}

async function proposalDecision(deps: ApiDeps, identity: Identity, id: string, decision: { approve: true; comment?: string | undefined; role?: string | undefined } | { approve: false; reason: string; role?: string | undefined }) {
  const role = autonomyRole(identity, decision.role);
  const handle = deps.temporal.workflow.getHandle(id);
  try {
    const view = decision.approve
      ? await handle.executeUpdate(approveUpdate, { args: [{ role, approver: identity.name, ...(decision.comment ? { comment: decision.comment } : {}), ...signedFor(deps, identity) }] })
      : await handle.executeUpdate(rejectUpdate, { args: [{ role, approver: identity.name, reason: decision.reason, ...signedFor(deps, identity) }] });
    return ok(view);
  } catch (error) {
    throw workflowError(error, `proposal ${id}`);
  }
}

/** Temporal's answers in HTTP terms: a missing workflow is 404, a refused update 409. */
function workflowError(error: unknown, what: string): unknown {
  if (error instanceof WorkflowNotFoundError) return notFound(`${what} not found`);
  if (error instanceof WorkflowUpdateFailedError) return conflict(error.cause?.message ?? error.message);
  if (error instanceof AlreadyRunningError) return conflict(error.message);
  return error;
}

async function change(deps: ApiDeps, input: ChangeControlPlaneInput): Promise<Reply> {
  try {
    return changeReply(await deps.warden.changeControlPlane(input));
  } catch (error) {
    throw workflowError(error, 'the control plane');
  }
}

export function createRoutes(deps: ApiDeps): RouteSpec[] {
  const { db, config } = deps;
  const healthOptions = { capitalBands: config.capitalBands, canaryThreshold: config.watchdogs.canaryThreshold };
  return [
    route({ id: 'health', method: 'GET', url: '/health', access: 'public', summary: 'Liveness: the API process answers.', handle: async () => ok({ status: 'ok' }) }),
    route({
      id: 'ready',
      method: 'GET',
      url: '/ready',
      access: 'public',
      summary: 'Readiness: Temporal and the database are reachable.',
      handle: async () => {
        const probe = async (check: () => Promise<unknown>) => {
          try {
            await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 3 s')), 3000))]);
            return { ok: true };
          } catch (error) {
            return { ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        };
        const [temporal, database] = await Promise.all([
          probe(() => deps.temporal.workflowService.getSystemInfo({})),
          probe(() => db.selectFrom('control_plane_state').select('id').executeTakeFirstOrThrow()),
        ]);
        const ready = temporal.ok && database.ok;
        return ok({ ready, checks: { temporal, database } }, ready ? 200 : 503);
      },
    }),
    route({
      id: 'metrics',
      method: 'GET',
      url: '/metrics',
      access: 'public',
      summary: 'Prometheus metrics.',
      handle: async () => ({ status: 200, body: await deps.registry.metrics(), contentType: deps.registry.contentType }),
    }),

    // Reads.
    route({ id: 'controlPlane', method: 'GET', url: '/control-plane', access: 'read', summary: 'Go-live, kill switch (with release approvals), apply mode and capital band, as persisted.', handle: async () => ok(await readControlPlaneState(db)) }),
    route({ id: 'capital', method: 'GET', url: '/capital', access: 'read', summary: "Today's capital usage and band (A–D).", handle: async () => ok(await readCapitalUsage(db, config.capitalBands)) }),
    route({ id: 'status', method: 'GET', url: '/status', access: 'read', summary: 'Health R/Y/G with its reasons and the capital band.', handle: async () => ok(await readHealth(db, healthOptions)) }),
    route({ id: 'riskLedgerToday', method: 'GET', url: '/risk/ledger/today', access: 'read', summary: "Today's risk ledger per engine and denials by reason.", handle: async () => ok(await ledgerReport(db, utcDay(new Date()))) }),
    route({
      id: 'regression',
      method: 'GET',
      url: '/regression',
      access: 'read',
      summary: 'Regression tripwire states and active engine restrictions.',
      handle: async () => ok({ states: await regressionStates(db), restrictions: await listRestrictions(db) }),
    }),
    route({ id: 'scorecards', method: 'GET', url: '/scorecards', access: 'read', summary: "Today's prod-eligibility scorecards per domain.", handle: async () => ok(await listScorecards(db, utcDay(new Date()))) }),
    route({ id: 'autonomy', method: 'GET', url: '/autonomy', access: 'read', summary: 'Autonomy phase and governance state.', handle: async () => ok(await readGovernanceState(db)) }),
    route({
      id: 'proposals',
      method: 'GET',
      url: '/proposals',
      access: 'read',
      summary: 'Expansion proposals.',
      query: z.strictObject({ open: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) => ok(await listProposals(db, { openOnly: query.open === 'true' })),
    }),
    route({
      id: 'breakerEvents',
      method: 'GET',
      url: '/breaker-events',
      access: 'read',
      summary: 'Circuit-breaker events.',
      query: z.strictObject({ unresolved: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) => ok(await listBreakerEvents(db, { unresolvedOnly: query.unresolved === 'true' })),
    }),
    route({ id: 'permits', method: 'GET', url: '/permits', access: 'read', summary: 'Execution permits, blocks and disarms.', query: Paging, handle: async ({ query }) => ok(await listPermits(db, { limit: query.limit })) }),
    route({ id: 'governanceLog', method: 'GET', url: '/governance-log', access: 'read', summary: 'Strategy-gate decisions, newest first.', query: Paging, handle: async ({ query }) => ok(await listGovernanceLog(db, { limit: query.limit })) }),
    route({
      id: 'audit',
      method: 'GET',
      url: '/audit',
      access: 'audit:read',
      summary: 'The audit log, newest first, paged with ?before=<id>.',
      query: AuditPaging,
      handle: async ({ query }) => {
        const events = await listAuditEvents(db, { limit: query.limit, ...(query.before ? { before: query.before } : {}), ...(query.kind ? { kind: query.kind } : {}) });
        const last = events.at(-1);
        return ok({ events, next: events.length === query.limit && last ? `/audit?limit=${query.limit}&before=${last.id}` : null });
      },
    }),
    route({
      id: 'review',
      method: 'GET',
      url: '/review',
      access: 'read',
      summary: 'The Monday review: what broke, what was denied, what drifted, what waits for approval, band and health.',
      query: SinceQuery,
      handle: async ({ query }) => {
        const since = query.since;
        const waitingWorkflows = await listWaitingWorkflows(deps.temporal, config.temporal.taskQueue).catch(() => undefined);
        return ok(await buildReview(db, { ...healthOptions, ...(since ? { since } : {}), ...(waitingWorkflows ? { waitingWorkflows } : {}) }));
      },
    }),
    route({
      id: 'notifications',
      method: 'GET',
      url: '/notifications',
      access: 'read',
      summary: 'Notifications and their webhook deliveries.',
      query: Paging.extend({ pending: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) => ok(await listNotifications(db, { limit: query.limit, pendingOnly: query.pending === 'true' })),
    }),
    route({
      id: 'playbook',
      method: 'GET',
      url: '/playbook',
      access: 'read',
      summary: 'The go-live playbook: steps done, with evidence.',
      handle: async () => {
        const playbook = await readPlaybook(db, GO_LIVE_PLAYBOOK_WORKFLOW_ID);
        if (!playbook) throw notFound('no go-live playbook has been started (POST /playbook/start)');
        return ok(playbook);
      },
    }),
    route({
      id: 'sessions',
      method: 'GET',
      url: '/sessions',
      access: 'read',
      summary: 'Operator sessions with their snapshots.',
      query: Paging.extend({ active: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) => ok(await listOperatorSessions(db, { limit: query.limit, activeOnly: query.active === 'true' })),
    }),
    route({ id: 'apiKeys', method: 'GET', url: '/api-keys', access: 'audit:read', summary: 'API keys (never their secrets).', handle: async () => ok(await listApiKeys(db)) }),
    route({ id: 'whoami', method: 'GET', url: '/whoami', access: 'read', summary: 'The identity and roles of the calling key.', handle: async ({ identity }) => ok(identity) }),

    // Writes: every one acts through a workflow.
    route({
      id: 'engageKillSwitch',
      method: 'POST',
      url: '/control-plane/kill-switch/engage',
      access: 'kill_switch:engage',
      summary: 'Engage the kill switch now (any write role, or automation).',
      body: Reason,
      response: ChangeResultSchema,
      handle: ({ identity, body }) =>
        change(deps, { kind: 'engageKillSwitch', source: identity.roles.includes('automation') ? 'automation' : 'operator', actor: identity.name, reason: body.reason }),
    }),
    route({
      id: 'releaseKillSwitch',
      method: 'POST',
      url: '/control-plane/kill-switch/release',
      access: 'kill_switch:release',
      summary: 'Approve releasing the kill switch (approver roles, after the cooldown). 202 while more approvals are needed; 409 with the reason when refused.',
      body: ReleaseVoteBody,
      response: ChangeResultSchema,
      handle: ({ identity, body }) => change(deps, { kind: 'releaseKillSwitch', ...vote(deps, identity, body) }),
    }),
    route({
      id: 'declineKillSwitchRelease',
      method: 'POST',
      url: '/control-plane/kill-switch/decline',
      access: 'kill_switch:release',
      summary: 'Decline releasing the kill switch; approvals gathered so far are discarded.',
      body: ReleaseVoteBody,
      response: ChangeResultSchema,
      handle: ({ identity, body }) => change(deps, { kind: 'declineKillSwitchRelease', ...vote(deps, identity, body) }),
    }),
    route({
      id: 'setGoLive',
      method: 'POST',
      url: '/control-plane/go-live',
      access: 'go_live:set',
      summary: 'Turn go-live on (only after a completed go-live playbook) or off.',
      body: z.strictObject({ enabled: z.boolean(), reason: ReasonSchema.optional() }),
      response: ChangeResultSchema,
      handle: ({ identity, body }) => change(deps, { kind: 'setGoLive', enabled: body.enabled, actor: identity.name, ...(body.reason ? { reason: body.reason } : {}) }),
    }),
    route({
      id: 'setApplyMode',
      method: 'POST',
      url: '/control-plane/apply-mode',
      access: 'apply_mode:set',
      summary: 'Set apply mode dry_run | testnet | live.',
      body: z.strictObject({ mode: ApplyModeSchema, reason: ReasonSchema.optional() }),
      response: ChangeResultSchema,
      handle: ({ identity, body }) => change(deps, { kind: 'setApplyMode', mode: body.mode, actor: identity.name, ...(body.reason ? { reason: body.reason } : {}) }),
    }),
    route({
      id: 'restrictEngine',
      method: 'POST',
      url: '/engines/:engine/restrictions',
      access: 'engine:restrict',
      summary: 'Throttle or pause one engine.',
      params: z.strictObject({ engine: EngineSchema }),
      body: z.strictObject({ restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }), reason: ReasonSchema }),
      response: ChangeResultSchema,
      handle: ({ identity, params, body }) =>
        change(deps, { kind: 'restrictEngine', engine: params.engine, restriction: body.restriction, source: identity.roles.includes('automation') ? 'automation' : 'operator', actor: identity.name, reason: body.reason }),
    }),
    route({
      id: 'approveProposal',
      method: 'POST',
      url: '/proposals/:id/approve',
      access: 'proposal:decide',
      summary: 'Approve an expansion proposal as tech_lead (engineer), ops_lead (operator), product_lead (manager) or exec_sponsor (owner).',
      params: ProposalParams,
      body: z.strictObject({ role: z.string().optional(), comment: z.string().max(2000).optional() }),
      handle: ({ identity, params, body }) => proposalDecision(deps, identity, params.id, { approve: true, comment: body.comment, role: body.role }),
    }),
    route({
      id: 'rejectProposal',
      method: 'POST',
      url: '/proposals/:id/reject',
      access: 'proposal:decide',
      summary: 'Reject an expansion proposal.',
      params: ProposalParams,
      body: z.strictObject({ role: z.string().optional(), reason: ReasonSchema }),
      handle: ({ identity, params, body }) => proposalDecision(deps, identity, params.id, { approve: false, reason: body.reason, role: body.role }),
    }),
    route({
      id: 'command',
      method: 'GET',
      url: '/commands/:id',
      access: 'read',
      summary: "A command's stage, decision and result.",
      params: CommandParams,
      handle: async ({ params }) => {
        try {
          return ok(await deps.temporal.workflow.getHandle(commandWorkflowId(params.id)).query(commandStatusQuery));
        } catch (error) {
          throw workflowError(error, `command ${params.id}`);
        }
      },
    }),
    route({
      id: 'approveCommand',
      method: 'POST',
      url: '/commands/:id/approve',
      access: 'command:decide',
      summary: 'Approve a command waiting for a human (as the autonomy approver role the key maps to).',
      params: CommandParams,
      body: z.strictObject({ role: z.string().optional(), comment: z.string().max(2000).optional() }),
      handle: ({ identity, params, body }) => commandDecision(deps, identity, params.id, 'approve', body),
    }),
    route({
      id: 'rejectCommand',
      method: 'POST',
      url: '/commands/:id/reject',
      access: 'command:decide',
      summary: 'Reject a command waiting for a human.',
      params: CommandParams,
      body: z.strictObject({ role: z.string().optional(), comment: z.string().max(2000).optional() }),
      handle: ({ identity, params, body }) => commandDecision(deps, identity, params.id, 'reject', body),
    }),
    route({
      id: 'startPlaybook',
      method: 'POST',
      url: '/playbook/start',
      access: 'playbook:run',
      summary: 'Start the nine-step go-live playbook.',
      body: z.strictObject({}),
      handle: async ({ identity }) => {
        try {
          const handle = await deps.warden.startGoLivePlaybook({ startedBy: identity.name });
          return ok({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, 201);
        } catch (error) {
          throw workflowError(error, 'the go-live playbook');
        }
      },
    }),
    route({
      id: 'completePlaybookStep',
      method: 'POST',
      url: '/playbook/steps',
      access: 'playbook:run',
      summary: 'Complete the next playbook step with evidence; refused (409) when out of order, in the wrong band or health, or without an approver for sign_off.',
      body: z.strictObject({ step: PlaybookStepIdSchema, evidence: z.string().trim().min(1, 'must describe the evidence').max(4000), role: RoleSchema.optional() }),
      handle: async ({ identity, body }) => {
        // By default the key's approver role, if it has one: the sign-off needs it.
        const role = body.role ?? identity.roles.find((r) => RELEASE_APPROVER_ROLES.includes(r)) ?? identity.roles[0]!;
        if (!identity.roles.includes(role)) throw forbidden(`role: ${identity.name} does not hold ${role}`);
        try {
          const result = await deps.warden.completePlaybookStep({ step: body.step, evidence: body.evidence, actor: identity.name, role, ...signedFor(deps, identity) });
          if (result.status === 'refused') throw conflict(`${result.reason}: ${result.detail}`, { result });
          return ok(result);
        } catch (error) {
          throw workflowError(error, 'the go-live playbook');
        }
      },
    }),
    route({
      id: 'startSession',
      method: 'POST',
      url: '/sessions',
      access: 'session:run',
      summary: 'Start an operator session; its snapshot of the system is stored.',
      body: z.strictObject({ notes: z.string().max(4000).optional() }),
      handle: async ({ identity, body }) => {
        try {
          return ok(await deps.warden.startOperatorSession({ operator: identity.name, ...(body.notes ? { notes: body.notes } : {}) }), 201);
        } catch (error) {
          throw workflowError(error, 'the session');
        }
      },
    }),
    route({
      id: 'endSession',
      method: 'POST',
      url: '/sessions/:operator/end',
      access: 'session:run',
      summary: "End an operator's active session with a closing snapshot.",
      params: SessionParams,
      body: z.strictObject({ notes: z.string().max(4000).optional() }),
      handle: async ({ identity, params, body }) => {
        try {
          return ok(await deps.warden.endOperatorSession({ operator: params.operator, actor: identity.name, ...(body.notes ? { notes: body.notes } : {}) }));
        } catch (error) {
          throw workflowError(error, `${params.operator}'s session`);
        }
      },
    }),
    route({
      id: 'issueApprovalToken',
      method: 'POST',
      url: '/approval-tokens',
      access: 'approval_token:issue',
      summary: "A short-lived signed approval token with the caller's roles, for approvals sent by the Temporal CLI or UI.",
      body: z.strictObject({}),
      handle: async ({ identity }) => {
        const issued = mintToken(deps, identity);
        if (!issued) throw new ApiError(409, 'not_configured', 'this environment has no approval signing key (WARDEN_APPROVAL_SIGNING_KEY)');
        await recordAuditEvent(db, { actor: identity.name, kind: 'approval_token.issued', subject: `approval_token:${issued.claims.jti}`, details: { roles: issued.claims.roles, expiresAt: new Date(issued.claims.exp * 1000).toISOString(), keyId: identity.keyId } });
        return ok({ token: issued.token, subject: issued.claims.sub, roles: issued.claims.roles, expiresAt: new Date(issued.claims.exp * 1000).toISOString() }, 201);
      },
    }),
    route({
      id: 'alertmanager',
      method: 'POST',
      url: '/alerts/alertmanager',
      access: 'alertmanager',
      summary: 'Alertmanager webhook receiver (?receiver=<name>, Authorization: Bearer <secret>): a firing alert labelled warden_action=kill_switch|pause|throttle acts through the control plane; resolved alerts are recorded and never release anything.',
      query: z.strictObject({ receiver: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a receiver name') }),
      body: AlertmanagerPayloadSchema,
      handle: async ({ identity, body }) => ok(await actOnAlerts(deps, identity, body)),
    }),
  ];
}

function mintToken(deps: ApiDeps, identity: Identity) {
  const key = deps.config.approvals.signingKey;
  if (key === undefined) return undefined;
  return issueApprovalToken({ subject: identity.name, roles: identity.roles, environment: deps.config.environment, ttlMs: durationMs(deps.config.approvals.tokenTtl), key });
}

/**
 * The API has authenticated the caller, so it signs the vote itself: approvals
 * that come through the API pass in signed mode like any other signed one.
 */
function signedFor(deps: ApiDeps, identity: Identity): { token?: string } {
  const issued = mintToken(deps, identity);
  return issued ? { token: issued.token } : {};
}

function vote(deps: ApiDeps, identity: Identity, body: z.infer<typeof ReleaseVoteBody>) {
  return { actor: identity.name, role: releaseRole(identity, body.role), reason: body.reason, ...signedFor(deps, identity) };
}

async function actOnAlerts(deps: ApiDeps, identity: Identity, payload: AlertmanagerPayload) {
  const plan = planAlertActions(payload);
  const results = [];
  for (const item of plan) {
    if (item.kind === 'record') {
      await recordAuditEvent(deps.db, { actor: identity.name, kind: `alert.${item.status}`, subject: `alert:${item.alertname}`, details: { fingerprint: item.fingerprint, labels: item.labels, note: item.note } });
      results.push({ alert: item.alertname, status: item.status, action: 'recorded' });
      continue;
    }
    const reason = `alert ${item.alertname} firing: ${item.summary}`;
    const changed =
      item.action === 'kill_switch'
        ? await deps.warden.changeControlPlane({ kind: 'engageKillSwitch', source: 'alertmanager', actor: identity.name, reason })
        : await deps.warden.changeControlPlane({ kind: 'restrictEngine', engine: item.engine, restriction: item.action, source: 'alertmanager', actor: identity.name, reason });
    results.push({ alert: item.alertname, status: 'firing', action: item.action, ...(item.action === 'kill_switch' ? {} : { engine: item.engine }), outcome: changed.outcome });
  }
  return { receiver: identity.name, results };
}
