import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { safeText } from '../../../domain/shared/validation';
import { findClaim, listDealHoldings } from '../../../db/deal-claims.repository';
import { ReasonSchema } from '../../../domain/control-plane/types';
import { type DealHolding, orphanViews } from '../../../domain/deals/orphans';
import type { DealWorkflowStatus } from '../../../domain/deals/port';
import { DealIdSchema } from '../../../domain/deals/types';
import { dealWorkflowId } from '../../../../workflows/names';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok, viaWorkflow } from './shared';

const DealParams = z.strictObject({ dealId: DealIdSchema });
const ReconcileBody = z.strictObject({
  executed: z.boolean({ message: 'expected true or false: did the order execute?' }),
  realizedLoss: z.number().finite().nonnegative('must be 0 or more').optional(),
  externalId: safeText({ max: 500 }).optional(),
  reason: ReasonSchema,
});

/** What closed deal workflows still hold, as the sweep sees it, and the operator's word on an ambiguous deal. */
export function dealRoutes(deps: ApiDeps): RouteSpec[] {
  const { db, temporal } = deps;
  const statusOf = async (workflowId: string): Promise<DealWorkflowStatus> => {
    try {
      const { status } = await temporal.workflow.getHandle(workflowId).describe();
      return status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'not_found';
      throw error;
    }
  };
  return [
    route({
      id: 'dealOrphans',
      method: 'GET',
      url: '/deals/orphans',
      access: 'read',
      summary:
        'Reservations and permits held by deals whose workflow is closed: to release (never reached the executor) or to reconcile.',
      handle: async () => {
        const holdings = await listDealHoldings(db);
        const statuses = new Map<DealHolding, { workflowId: string; workflow: DealWorkflowStatus }>();
        for (const h of holdings) {
          const workflowId = h.workflowId ?? dealWorkflowId(h.dealId);
          statuses.set(h, { workflowId, workflow: await statusOf(workflowId) });
        }
        return ok(orphanViews(holdings, (h) => statuses.get(h)!));
      },
    }),
    route({
      id: 'reconcileDeal',
      method: 'POST',
      url: '/deals/:dealId/reconcile',
      access: 'deal:reconcile',
      summary:
        "Settle (executed) or release (not executed) a deal waiting in needs_reconciliation; the key's identity is the audited actor.",
      params: DealParams,
      body: ReconcileBody,
      handle: async ({ identity, params, body }) => {
        const claim = await findClaim(db, params.dealId);
        const result = await viaWorkflow(`deal ${params.dealId}`, () =>
          deps.warden.reconcileDeal(params.dealId, { ...body, actor: identity.name }, claim?.workflowId),
        );
        return ok(result);
      },
    }),
  ];
}
