import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { findClaim, listDealHoldings, listUnresolvedDeals } from '../../../db/deal-claims.repository';
import { type DealHolding, orphanViews } from '../../../domain/deals/orphans';
import type { DealWorkflowStatus } from '../../../domain/deals/port';
import { DealIdSchema, ReconcileDealInputSchema } from '../../../domain/deals/types';
import { DealListFilter, dealListQuery, searchAttributesOf } from '../../review/visibility';
import { dealWorkflowId } from '../../../../workflows/names';
import type { Identity } from '../../../domain/identity/roles';
import { type ChangeSubmitted, submitChanges, submittedReply } from '../../operations/submit-changes';
import { badRequest, conflict, route, type RouteSpec } from '../http';
import { type ApiDeps, ok, viaWorkflow } from './shared';

const DealParams = z.strictObject({ dealId: DealIdSchema });
/** The workflow's own word, less what the API supplies (the actor is the key's identity; a release goes through a change request). */
export const ReconcileBody = ReconcileDealInputSchema.omit({ actor: true, changeRequestId: true });

/** Deals by outcome, engine, symbol, strategy or denying gate: one visibility query, newest first. */
export async function listDeals({ temporal }: ApiDeps, filter: z.output<typeof DealListFilter>) {
  const query = dealListQuery(filter);
  const deals = [];
  for await (const info of temporal.workflow.list({ query })) {
    if (deals.length >= filter.limit) break;
    deals.push({
      dealId: info.workflowId.replace(/^deal-/, ''),
      workflowId: info.workflowId,
      status: info.status.name,
      startedAt: info.startTime.toISOString(),
      closedAt: info.closeTime?.toISOString() ?? null,
      ...searchAttributesOf(info),
    });
  }
  return { query, deals };
}

/** Reservations and permits held by deals whose workflow is closed, with what the sweep does with each. */
export async function dealOrphans({ db, temporal }: ApiDeps) {
  const statusOf = async (workflowId: string): Promise<DealWorkflowStatus> => {
    try {
      const { status } = await temporal.workflow.getHandle(workflowId).describe();
      return status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'not_found';
      throw error;
    }
  };
  const holdings = await listDealHoldings(db);
  const statuses = new Map<DealHolding, { workflowId: string; workflow: DealWorkflowStatus }>();
  for (const h of holdings) {
    const workflowId = h.workflowId ?? dealWorkflowId(h.dealId);
    statuses.set(h, { workflowId, workflow: await statusOf(workflowId) });
  }
  return orphanViews(holdings, (h) => statuses.get(h)!);
}

/** The executor attempts a deal's workflow started (each attempt's own, a retried activity's counted too). */
async function executorAttempts({ temporal }: ApiDeps, workflowId: string): Promise<number | null> {
  try {
    const events = (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const executes = new Set(
      events
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeDeal')
        .map((e) => String(e.eventId)),
    );
    return events.reduce((n, e) => {
      const started = e.activityTaskStartedEventAttributes;
      return started && executes.has(String(started.scheduledEventId)) ? n + (started.attempt ?? 1) : n;
    }, 0);
  } catch (error) {
    // The history is gone (retention) or unreachable: the list still shows what the database holds.
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

/** Deals whose outcome is unknown, oldest first, with their age, what they hold and their executor attempts. */
export async function unresolvedDeals(deps: ApiDeps) {
  const deals = await listUnresolvedDeals(deps.db, new Date());
  return Promise.all(deals.map(async (d) => ({ ...d, executorAttempts: await executorAttempts(deps, d.workflowId) })));
}

/** The identity's word on a deal waiting in needs_reconciliation: settle (executed) or release it. */
export async function reconcileDeal(
  deps: ApiDeps,
  identity: Identity,
  dealId: string,
  body: z.infer<typeof ReconcileBody>,
  workflowId?: string,
) {
  const claim = workflowId === undefined ? await findClaim(deps.db, dealId) : undefined;
  return viaWorkflow(`deal ${dealId}`, () =>
    deps.warden.reconcileDeal(dealId, { ...body, actor: identity.name }, workflowId ?? claim?.workflowId),
  );
}

/**
 * The identity's release of a deal waiting in needs_reconciliation: it frees money on the word that the order
 * did not execute, so it is a `deal_release` change request (invariant 8); once others approve it, its
 * applier sends the deal's workflow the release.
 */
export async function requestDealRelease(
  deps: ApiDeps,
  identity: Identity,
  dealId: string,
  body: z.infer<typeof ReconcileBody>,
): Promise<ChangeSubmitted> {
  if (body.realizedLoss !== undefined) throw badRequest('realizedLoss: only for an executed deal');
  const claim = await findClaim(deps.db, dealId);
  if (claim?.stage !== 'needs_reconciliation')
    throw conflict(
      `deal ${dealId} is not awaiting reconciliation (${claim ? `its claim is ${claim.stage}` : 'no claim'})`,
    );
  return submitChanges(deps, identity, [{ kind: 'deal_release', target: dealId, after: 'released' }], body.reason);
}

/** What closed deal workflows still hold, as the sweep sees it, and the operator's word on an ambiguous deal. */
export function dealRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      id: 'listDeals',
      method: 'GET',
      url: '/deals',
      access: 'read',
      summary:
        "Deals by outcome, engine, symbol, strategy or denying gate (?outcome=denied&engine=WHOLESALE&gate=risk&running=false&limit=50): one visibility query on Warden's search attributes, answered with the query itself for the Web UI.",
      query: DealListFilter,
      handle: async ({ query }) => ok(await listDeals(deps, query)),
    }),
    route({
      id: 'dealOrphans',
      method: 'GET',
      url: '/deals/orphans',
      access: 'read',
      summary:
        'Reservations and permits held by deals whose workflow is closed: to release (never reached the executor) or to reconcile.',
      handle: async () => ok(await dealOrphans(deps)),
    }),
    route({
      id: 'unresolvedDeals',
      method: 'GET',
      url: '/deals/unresolved',
      access: 'read',
      summary:
        'Deals whose outcome is unknown (needs_reconciliation), oldest first: age, amount still reserved, permit, cause and executor attempts. Settle or release each with POST /deals/{dealId}/reconcile.',
      handle: async () => ok(await unresolvedDeals(deps)),
    }),
    route({
      id: 'reconcileDeal',
      method: 'POST',
      url: '/deals/:dealId/reconcile',
      access: 'deal:reconcile',
      summary:
        "Settle (executed) a deal waiting in needs_reconciliation, or request its release (not executed: a change request others approve, 202); the key's identity is the audited actor.",
      params: DealParams,
      body: ReconcileBody,
      handle: async ({ identity, params, body }) =>
        body.executed
          ? ok(await reconcileDeal(deps, identity, params.dealId, body))
          : submittedReply(await requestDealRelease(deps, identity, params.dealId, body)),
    }),
  ];
}
