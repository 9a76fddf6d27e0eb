import { z } from 'zod';
import { safeText } from '../../../domain/shared/validation';
import {
  approveCommandSignal,
  approveUpdate,
  commandStatusQuery,
  rejectCommandSignal,
  rejectUpdate,
} from '../../../../workflows/messages';
import { AuditKind } from '../../../domain/audit/kinds';
import { approvalAudience } from '../../../domain/identity/audience';
import { ReasonSchema } from '../../../domain/control-plane/types';
import { listApprovers, readGovernanceState } from '../../../db/autonomy.repository';
import { listBreakerEvents } from '../../../db/breakers.repository';
import { listProposals, ProposalRefusedError, proposeExpansion } from '../../../db/expansion-proposals.repository';
import { proposePromotion, StrategyLevelChangeError } from '../../../db/strategy.repository';
import {
  commandWorkflowId,
  EXPANSION_PROPOSAL_WORKFLOW_TYPE,
  STRATEGY_PROMOTION_WORKFLOW_TYPE,
} from '../../../../workflows/names';
import { type ApproverRole, ApproverRoleSchema } from '../../../domain/autonomy/phases';
import { AUTONOMY_APPROVER_ROLE, autonomyRolesOf, type Identity } from '../../../domain/identity/roles';
import { badRequest, conflict, forbidden, notFound, route, type RouteSpec } from '../http';
import {
  listGovernanceReports,
  listMetricsSnapshots,
  readGovernanceReport,
} from '../../../db/governance-reports.repository';
import { type ApiDeps, ok, signedFor, viaWorkflow } from './shared';

const ProposalParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:+-]{1,128}$/, 'expected a proposal id') });
const StrategyParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id') });
const CommandParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:+-]{1,128}$/, 'expected a command id') });
/** An approval of a proposal or a decision on a command: the role to act in and an optional comment. */
const RoleCommentBody = z.strictObject({
  role: safeText({ max: 64 }).optional(),
  comment: safeText({ max: 2000, min: 0, multiline: true }).optional(),
});

/** The autonomy approver role a key acts in: named in the body, or its only one. */
export function autonomyRole(identity: Identity, requestedRole: string | undefined): ApproverRole {
  const held = autonomyRolesOf(identity.roles);
  const requested = requestedRole === undefined ? undefined : ApproverRoleSchema.safeParse(requestedRole);
  if (requested && !requested.success)
    throw badRequest(`body.role: expected one of ${Object.keys(AUTONOMY_APPROVER_ROLE).join(', ')}`);
  const role = requested?.data ?? (held.length === 1 ? held[0] : undefined);
  if (role === undefined) {
    throw held.length === 0
      ? forbidden(`${identity.name} holds no autonomy approver role`)
      : badRequest(`body.role: ${identity.name} may act as ${held.join(', ')}; name one`);
  }
  if (!held.includes(role)) throw forbidden(`role: acting as ${role} needs the ${AUTONOMY_APPROVER_ROLE[role]} role`);
  return role;
}

/** A command decision goes by signal (the public interface); the answer is the command's status once the decision is judged. */
async function commandDecision(
  deps: ApiDeps,
  identity: Identity,
  commandId: string,
  kind: 'approve' | 'reject',
  body: { role?: string | undefined; comment?: string | undefined },
) {
  const role = autonomyRole(identity, body.role);
  const handle = deps.temporal.workflow.getHandle(commandWorkflowId(commandId));
  return viaWorkflow(`command ${commandId}`, async () => {
    const before = await handle.query(commandStatusQuery);
    if (before.stage !== 'awaiting_approval' || before.decision)
      throw conflict(`command ${commandId} is not waiting for a decision (stage ${before.stage})`, { command: before });
    await handle.signal(kind === 'approve' ? approveCommandSignal : rejectCommandSignal, {
      approver: identity.name,
      role,
      ...(body.comment ? { comment: body.comment } : {}),
      ...(await signedFor(deps, identity, approvalAudience(commandWorkflowId(commandId), kind))),
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const view = await handle.query(commandStatusQuery);
      if (view.decision) return ok(view);
      if (view.rejectedMessages > before.rejectedMessages)
        throw conflict(
          `the ${kind} was refused; see the audit log (${AuditKind.autonomy.messageRejected}, subject command:${commandId})`,
          { command: view },
        );
      if (Date.now() > deadline) return ok(view, 202);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

/** An approval or rejection of an expansion proposal as the identity, in its autonomy approver role, signed by the API. */
export async function proposalDecision(
  deps: ApiDeps,
  identity: Identity,
  id: string,
  decision:
    | { approve: true; comment?: string | undefined; role?: string | undefined }
    | { approve: false; reason: string; role?: string | undefined },
) {
  const role = autonomyRole(identity, decision.role);
  const handle = deps.temporal.workflow.getHandle(id);
  const signed = await signedFor(deps, identity, approvalAudience(id, decision.approve ? 'approve' : 'reject'));
  return viaWorkflow(`proposal ${id}`, async () =>
    ok(
      decision.approve
        ? await handle.executeUpdate(approveUpdate, {
            args: [
              {
                role,
                approver: identity.name,
                ...(decision.comment ? { comment: decision.comment } : {}),
                ...signed,
              },
            ],
          })
        : await handle.executeUpdate(rejectUpdate, {
            args: [{ role, approver: identity.name, reason: decision.reason, ...signed }],
          }),
    ),
  );
}

/** A refused proposal (another open, wrong allowlist, top of the ladder) is a conflict naming the field. */
async function refusedAsConflict<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProposalRefusedError || error instanceof StrategyLevelChangeError)
      throw conflict(error.message);
    throw error;
  }
}

/**
 * An operator's proposal: Warden records it (its terms are Warden's: the next phase's definition, or one
 * level up with the strategy's evidence), then starts its workflow, which loads them by id. The requester
 * may not approve it.
 */
async function propose(deps: ApiDeps, record: () => Promise<{ id: string; type: string; args: unknown[] }>) {
  const { id, type, args } = await refusedAsConflict(record);
  await deps.temporal.workflow.start(type, { taskQueue: deps.config.temporal.taskQueue, workflowId: id, args });
  return id;
}

/** The identity's expansion proposal: one phase up, on Warden's terms, started as its workflow. */
export async function createExpansionProposal(
  deps: ApiDeps,
  identity: Identity,
  body: { role?: string | undefined; reason: string },
) {
  const role = autonomyRole(identity, body.role);
  let terms: Awaited<ReturnType<typeof proposeExpansion>> | undefined;
  await propose(deps, async () => {
    terms = await proposeExpansion(deps.db, { requestedBy: identity.name, role, reason: body.reason });
    return { id: terms.proposalId, type: EXPANSION_PROPOSAL_WORKFLOW_TYPE, args: [{ proposalId: terms.proposalId }] };
  });
  return terms!;
}

/** The identity's proposal to raise a strategy one level, started as its strategyPromotion workflow. */
export async function proposeStrategyPromotion(
  deps: ApiDeps,
  identity: Identity,
  strategyId: string,
  body: { role?: string | undefined; reason: string },
) {
  const role = autonomyRole(identity, body.role);
  let proposal: Awaited<ReturnType<typeof proposePromotion>> | undefined;
  await propose(deps, async () => {
    proposal = await proposePromotion(
      deps.db,
      { strategyId, requestedBy: identity.name, role, reason: body.reason },
      await listApprovers(deps.db),
    );
    const { requestedBy, ...terms } = proposal.terms;
    return { id: proposal.proposalId, type: STRATEGY_PROMOTION_WORKFLOW_TYPE, args: [{ ...terms, approvers: {} }] };
  });
  return proposal!;
}

const Limit = z.strictObject({
  limit: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be 1 to 100')
    .max(100, 'must be 1 to 100')
    .default(10),
});

/** Autonomy phase, expansion proposals, circuit breakers, and the commands waiting for a human. */
export function autonomyRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'autonomy',
      method: 'GET',
      url: '/autonomy',
      access: 'read',
      summary: 'Autonomy phase and governance state.',
      handle: async () => ok(await readGovernanceState(db)),
    }),
    // Seed 002's read side: the weekly reports and the metrics snapshots each cycle stored.
    route({
      id: 'governanceReports',
      method: 'GET',
      url: '/governance/reports',
      access: 'read',
      summary: 'Weekly governance reports, newest first (limit, default 10, at most 100).',
      query: Limit,
      handle: async ({ query }) => ok(await listGovernanceReports(db, query.limit)),
    }),
    route({
      id: 'governanceReportLatest',
      method: 'GET',
      url: '/governance/reports/latest',
      access: 'read',
      summary: 'The latest weekly governance report (404 before the first cycle).',
      handle: async () => {
        const [latest] = await listGovernanceReports(db, 1);
        if (!latest) throw notFound('no governance report yet: the first cycle has not run');
        return ok(latest);
      },
    }),
    route({
      id: 'governanceReport',
      method: 'GET',
      url: '/governance/reports/:id',
      access: 'read',
      summary: 'One weekly governance report by id.',
      params: z.strictObject({ id: z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected a report id such as 12') }),
      handle: async ({ params }) => {
        const report = await readGovernanceReport(db, params.id);
        if (!report) throw notFound(`params.id: no governance report ${params.id}`);
        return ok(report);
      },
    }),
    route({
      id: 'metricsSnapshots',
      method: 'GET',
      url: '/governance/metrics',
      access: 'read',
      summary:
        "Seed 002's metrics snapshots (what each cycle measured over its window), newest first; start and end (ISO) keep those whose window ends between them.",
      query: Limit.extend({
        start: z.iso.datetime({ offset: true, message: 'expected an ISO time' }).optional(),
        end: z.iso.datetime({ offset: true, message: 'expected an ISO time' }).optional(),
      }),
      handle: async ({ query }) =>
        ok(
          await listMetricsSnapshots(db, {
            limit: query.limit,
            start: query.start === undefined ? undefined : new Date(query.start),
            end: query.end === undefined ? undefined : new Date(query.end),
          }),
        ),
    }),
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
      id: 'createProposal',
      method: 'POST',
      url: '/proposals',
      access: 'proposal:decide',
      summary:
        "Propose widening autonomy one phase, on the next phase's own terms (as an approver role; someone else approves). 409 while another proposal is open.",
      body: z.strictObject({ role: safeText({ max: 64 }).optional(), reason: ReasonSchema }),
      handle: async ({ identity, body }) => ok(await createExpansionProposal(deps, identity, body), 201),
    }),
    route({
      id: 'proposePromotion',
      method: 'POST',
      url: '/strategies/:id/promotion',
      access: 'proposal:decide',
      summary:
        'Propose raising a strategy one maturity level (as an approver role; someone else approves its strategyPromotion). The level moves only when approved.',
      params: StrategyParams,
      body: z.strictObject({ role: safeText({ max: 64 }).optional(), reason: ReasonSchema }),
      handle: async ({ identity, params, body }) =>
        ok(await proposeStrategyPromotion(deps, identity, params.id, body), 201),
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
    route({
      id: 'approveProposal',
      method: 'POST',
      url: '/proposals/:id/approve',
      access: 'proposal:decide',
      summary:
        'Approve an expansion proposal as tech_lead (engineer), ops_lead (operator), product_lead (manager) or exec_sponsor (owner).',
      params: ProposalParams,
      body: RoleCommentBody,
      handle: ({ identity, params, body }) =>
        proposalDecision(deps, identity, params.id, { approve: true, comment: body.comment, role: body.role }),
    }),
    route({
      id: 'rejectProposal',
      method: 'POST',
      url: '/proposals/:id/reject',
      access: 'proposal:decide',
      summary: 'Reject an expansion proposal.',
      params: ProposalParams,
      body: z.strictObject({ role: safeText({ max: 64 }).optional(), reason: ReasonSchema }),
      handle: ({ identity, params, body }) =>
        proposalDecision(deps, identity, params.id, { approve: false, reason: body.reason, role: body.role }),
    }),
    route({
      id: 'command',
      method: 'GET',
      url: '/commands/:id',
      access: 'read',
      summary: "A command's stage, decision and result.",
      params: CommandParams,
      handle: async ({ params }) =>
        viaWorkflow(`command ${params.id}`, async () =>
          ok(await deps.temporal.workflow.getHandle(commandWorkflowId(params.id)).query(commandStatusQuery)),
        ),
    }),
    route({
      id: 'approveCommand',
      method: 'POST',
      url: '/commands/:id/approve',
      access: 'command:decide',
      summary: 'Approve a command waiting for a human (as the autonomy approver role the key maps to).',
      params: CommandParams,
      body: RoleCommentBody,
      handle: ({ identity, params, body }) => commandDecision(deps, identity, params.id, 'approve', body),
    }),
    route({
      id: 'rejectCommand',
      method: 'POST',
      url: '/commands/:id/reject',
      access: 'command:decide',
      summary: 'Reject a command waiting for a human.',
      params: CommandParams,
      body: RoleCommentBody,
      handle: ({ identity, params, body }) => commandDecision(deps, identity, params.id, 'reject', body),
    }),
  ];
}
