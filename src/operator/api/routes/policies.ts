import { z } from 'zod';
import { listExecutionPolicies } from '../../../db/execution-policies.repository';
import { listPositionDetails } from '../../../db/positions.repository';
import { ExecutionClassSchema, ReasonSchema } from '../../../domain/control-plane/types';
import { ReconcilePositionInputSchema } from '../../../domain/deals/policy';
import { POSITION_SCOPES } from '../../../domain/deals/positions';
import { EngineSchema } from '../../../domain/risk/rules';
import { dealOperations } from '../../operations/deals';
import { governedSetterOperations } from '../../operations/governed-setters';
import { runOperation } from '../../operations/operation';
import { submittedReply } from '../../operations/submit-changes';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok } from './shared';

/**
 * What an action is (issue 13): engine execution policies and Warden's own
 * positions. The writes are the risk owners' (owner, manager, risk_officer);
 * each is audited with the key's identity as actor, in its own transaction.
 */
export function policyRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'executionPolicies',
      method: 'GET',
      url: '/execution-policies',
      access: 'read',
      summary: 'Each engine’s execution class and required gates (an engine without one: PROD_EXEC, none required).',
      handle: async () => ok(await listExecutionPolicies(db)),
    }),
    route({
      id: 'setExecutionPolicy',
      method: 'POST',
      url: '/engines/:engine/execution-policy',
      access: 'change:request',
      summary:
        'Propose an engine’s execution class and required gates: stricter applies now (200), looser opens a change request (202).',
      params: z.strictObject({ engine: EngineSchema }),
      body: z.strictObject({
        executionClass: ExecutionClassSchema,
        strategyRequired: z.boolean(),
        recommendationRequired: z.boolean(),
        reason: ReasonSchema,
      }),
      // A change request (invariant 8): a stricter policy applies now (200 with it), a looser one waits (202).
      handle: async ({ identity, params, body }) => {
        const op = governedSetterOperations['executionPolicy.set'];
        const submitted = await runOperation(op, deps, identity, { engine: params.engine, ...body });
        const stored = (await listExecutionPolicies(db)).find((p) => p.engine === params.engine);
        return submittedReply(submitted, submitted.applied && stored ? { ...stored } : {});
      },
    }),
    route({
      id: 'positions',
      method: 'GET',
      url: '/positions',
      access: 'read',
      summary:
        'Warden’s net positions per (strategy, symbol) and (engine, symbol), from its own executed deals: each with the deals (and reconciliations) that built it, latest first, and what admitted exits hold of it.',
      query: z.strictObject({
        scope: z.enum(POSITION_SCOPES).optional(),
        scopeId: ReconcilePositionInputSchema.shape.scopeId.optional(),
      }),
      handle: async ({ query }) =>
        ok(
          await listPositionDetails(db, {
            ...(query.scope ? { scope: query.scope } : {}),
            ...(query.scopeId ? { scopeId: query.scopeId } : {}),
          }),
        ),
    }),
    route({
      id: 'reconcilePosition',
      method: 'POST',
      url: '/positions',
      access: 'position:reconcile',
      summary:
        'Reconcile one position to a quantity (signed notional): towards zero applies now (200); away from zero or across it waits for approval (202).',
      body: ReconcilePositionInputSchema.omit({ actor: true }),
      handle: async ({ identity, body }) =>
        submittedReply(await runOperation(dealOperations['positions.reconcile'], deps, identity, body)),
    }),
  ];
}
