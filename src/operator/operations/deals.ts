import { z } from 'zod';
import { listExecutionPolicies, readExecutionPolicy } from '../../db/execution-policies.repository';
import { listScorecards } from '../../db/heimdall.repository';
import { listPermits } from '../../db/permits.repository';
import { listPositionDetails } from '../../db/positions.repository';
import { positionTarget } from '../../domain/change-requests/operational-changes';
import { ledgerReport, listRiskPolicies } from '../../db/risk.repository';
import { ReconcilePositionInputSchema } from '../../domain/deals/policy';
import { POSITION_SCOPES } from '../../domain/deals/positions';
import { DealIdSchema, DealInputSchema, type DealResult } from '../../domain/deals/types';
import { SymbolSchema } from '../../domain/permits/rules';
import { EngineSchema } from '../../domain/risk/rules';
import { dealWorkflowId } from '../../../workflows/names';
import {
  dealOrphans,
  listDeals,
  ReconcileBody,
  reconcileDeal,
  requestDealRelease,
  unresolvedDeals,
} from '../api/routes/deals';
import { DealListFilter } from '../review/visibility';
import { operation } from './operation';
import { type ChangeSubmitted, submitChanges } from './submit-changes';

const DaySchema = z.strictObject({ day: z.iso.date('expected a date as YYYY-MM-DD') });
/** How long one `deal.result` call waits for the deal to close before answering "still running". */
const MAX_WAIT_SECONDS = 20;

/** Deals, the risk guard, the permit governor, Heimdall's scorecards, execution policies and positions. */
export const dealOperations = {
  'deal.start': operation({
    permission: 'deal:start',
    summary: 'Start a governed deal requested by the caller; it passes every gate as any other.',
    input: DealInputSchema.omit({ requestedBy: true, executorTaskQueue: true }),
    run: async (deps, identity, input) => {
      const handle = await deps.warden.startDeal({ ...input, requestedBy: identity.name });
      return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    },
  }),
  'deal.result': operation({
    permission: 'read',
    summary: `A deal's result once its workflow closed; waits up to ${MAX_WAIT_SECONDS} s, else answers done: false.`,
    input: z.strictObject({
      dealId: DealIdSchema,
      waitSeconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).default(MAX_WAIT_SECONDS),
    }),
    run: async (deps, _identity, { dealId, waitSeconds }) => {
      const handle = deps.temporal.workflow.getHandle(dealWorkflowId(dealId));
      const deadline = Date.now() + waitSeconds * 1000;
      // Polls describe rather than holding a result long-poll open past the answer.
      while ((await handle.describe()).status.name === 'RUNNING') {
        if (Date.now() >= deadline) return { done: false as const };
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return { done: true as const, result: (await handle.result()) as DealResult };
    },
  }),
  'deal.reconcile': operation({
    permission: 'deal:reconcile',
    summary:
      'Settle (executed) a deal waiting in needs_reconciliation, or request its release (not executed): a change request others approve.',
    input: ReconcileBody.extend({
      dealId: DealIdSchema,
      workflowId: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,255}$/, 'expected a workflow id')
        .optional(),
    }),
    run: async (deps, identity, { dealId, workflowId, ...body }): Promise<DealResult | ChangeSubmitted> =>
      body.executed
        ? reconcileDeal(deps, identity, dealId, body, workflowId)
        : requestDealRelease(deps, identity, dealId, body),
  }),
  'deals.list': operation({
    permission: 'read',
    summary:
      "Deals by outcome, engine, symbol, strategy or denying gate: one visibility query on Warden's search attributes.",
    input: DealListFilter,
    run: (deps, _identity, filter) => listDeals(deps, filter),
  }),
  'deals.unresolved': operation({
    permission: 'read',
    summary:
      'Deals whose outcome is unknown (needs_reconciliation): their age, what they still hold reserved and how many executor attempts ran.',
    input: z.strictObject({}),
    run: (deps) => unresolvedDeals(deps),
  }),
  'deals.orphans': operation({
    permission: 'read',
    summary: 'Reservations and permits held by closed deal workflows, and what the sweep does with each.',
    input: z.strictObject({}),
    run: (deps) => dealOrphans(deps),
  }),
  'risk.policies': operation({
    permission: 'read',
    summary: 'The risk policies, GLOBAL first.',
    input: z.strictObject({}),
    run: (deps) => listRiskPolicies(deps.db),
  }),
  'risk.ledger': operation({
    permission: 'read',
    summary: "A day's risk ledger per engine and its denials by reason.",
    input: DaySchema,
    run: (deps, _identity, { day }) => ledgerReport(deps.db, day),
  }),
  'heimdall.scorecards': operation({
    permission: 'read',
    summary: "A day's prod-eligibility scorecards per domain.",
    input: DaySchema,
    run: (deps, _identity, { day }) => listScorecards(deps.db, day),
  }),
  'permits.list': operation({
    permission: 'read',
    summary: 'Execution permits, blocks and disarms.',
    input: z.strictObject({ symbol: SymbolSchema.optional() }),
    run: (deps, _identity, { symbol }) => listPermits(deps.db, symbol ? { symbol } : {}),
  }),
  'executionPolicies.list': operation({
    permission: 'read',
    summary: "Each engine's execution class and required gates.",
    input: z.strictObject({}),
    run: (deps) => listExecutionPolicies(deps.db),
  }),
  'executionPolicy.read': operation({
    permission: 'read',
    summary: "One engine's execution policy (the default when it has none).",
    input: z.strictObject({ engine: EngineSchema }),
    run: (deps, _identity, { engine }) => readExecutionPolicy(deps.db, engine),
  }),
  'positions.list': operation({
    permission: 'read',
    summary: "Warden's net positions, each with the deals that built it and what exits hold of it.",
    input: z.strictObject({
      scope: z.enum(POSITION_SCOPES).optional(),
      scopeId: ReconcilePositionInputSchema.shape.scopeId.optional(),
    }),
    run: (deps, _identity, filter) => listPositionDetails(deps.db, filter),
  }),
  'positions.reconcile': operation({
    permission: 'position:reconcile',
    summary:
      'Reconcile one position to a quantity: towards zero applies now; away from zero or across it (larger reduce-only exits) is a change request.',
    input: ReconcilePositionInputSchema.omit({ actor: true }),
    run: (deps, identity, { quantity, reason, ...key }) =>
      submitChanges(deps, identity, [{ kind: 'position', target: positionTarget(key), after: quantity }], reason),
  }),
};
