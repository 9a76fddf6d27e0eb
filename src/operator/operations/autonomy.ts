import { z } from 'zod';
import { listApprovers, loadPhaseDefinitions, readGovernanceState } from '../../db/autonomy.repository';
import { listBreakerEvents, listBreakerRules, readBreakerEventState } from '../../db/breakers.repository';
import { listCommandPolicies } from '../../db/command-policies.repository';
import { listProposals } from '../../db/expansion-proposals.repository';
import { assessAndStoreReadiness, attest } from '../../db/governance-reports.repository';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import type { ProposalView } from '../../domain/autonomy/proposals';
import { ATTESTABLE_ITEMS } from '../../domain/autonomy/readiness-checklist';
import { ReasonSchema } from '../../domain/control-plane/types';
import { rowIdSchema, safeText } from '../../domain/shared/validation';
import type { GovernanceCycleResult } from '../../../workflows/governance-cycle';
import { GOVERNANCE_CYCLE_WORKFLOW_ID, GOVERNANCE_CYCLE_WORKFLOW_TYPE } from '../../../workflows/names';
import { createExpansionProposal, proposalDecision } from '../api/routes/autonomy';
import { operation, runOnce } from './operation';
import { submitChanges } from './submit-changes';

const ProposalIdSchema = safeText({ max: 200 });
const Comment = safeText({ max: 2000, min: 0, multiline: true }).optional();

/** Seed 002: the phase, expansion proposals, readiness, circuit breakers, approvers and command policies. */
export const autonomyOperations = {
  'autonomy.status': operation({
    permission: 'read',
    summary: 'The autonomy phase and governance state, the phase definitions and the approver allowlists.',
    input: z.strictObject({}),
    run: async ({ db }) => ({
      state: await readGovernanceState(db),
      phases: await loadPhaseDefinitions(db),
      approvers: await listApprovers(db),
    }),
  }),
  'proposals.list': operation({
    permission: 'read',
    summary: 'Expansion proposals, open only when pending.',
    input: z.strictObject({ pending: z.boolean().default(false) }),
    run: (deps, _identity, { pending }) => listProposals(deps.db, { openOnly: pending }),
  }),
  'proposal.create': operation({
    permission: 'proposal:decide',
    summary: "Propose widening autonomy one phase, on the next phase's own terms; someone else approves.",
    input: z.strictObject({ role: ApproverRoleSchema, reason: ReasonSchema }),
    run: (deps, identity, body) => createExpansionProposal(deps, identity, body),
  }),
  'proposal.approve': operation({
    permission: 'proposal:decide',
    summary: 'Approve an expansion proposal in an autonomy approver role the caller holds.',
    input: z.strictObject({ id: ProposalIdSchema, role: ApproverRoleSchema, comment: Comment }),
    run: async (deps, identity, { id, role, comment }) =>
      (await proposalDecision(deps, identity, id, { approve: true, role, comment })).body as ProposalView,
  }),
  'proposal.reject': operation({
    permission: 'proposal:decide',
    summary: 'Reject an expansion proposal.',
    input: z.strictObject({ id: ProposalIdSchema, role: ApproverRoleSchema, reason: ReasonSchema }),
    run: async (deps, identity, { id, role, reason }) =>
      (await proposalDecision(deps, identity, id, { approve: false, role, reason })).body as ProposalView,
  }),
  'readiness.assess': operation({
    permission: 'read',
    summary: 'The 80-point readiness checklist, assessed now, with blockers.',
    input: z.strictObject({}),
    run: (deps) => assessAndStoreReadiness(deps.db, new Date()),
  }),
  'readiness.attest': operation({
    permission: 'playbook:run',
    summary: "The caller's attestation of a checklist item.",
    input: z.strictObject({
      item: z.enum(ATTESTABLE_ITEMS as [string, ...string[]], {
        message: `expected one of ${ATTESTABLE_ITEMS.join(', ')}`,
      }),
      passed: z.boolean(),
      note: safeText({ max: 2000, multiline: true }).optional(),
    }),
    run: (deps, identity, { item, passed, note }) =>
      attest(deps.db, { item, passed, actor: identity.name, ...(note ? { note } : {}) }),
  }),
  'breakers.rules': operation({
    permission: 'read',
    summary: 'Circuit-breaker rules.',
    input: z.strictObject({}),
    run: (deps) => listBreakerRules(deps.db),
  }),
  'breakers.events': operation({
    permission: 'read',
    summary: 'Circuit-breaker events, unresolved only when pending.',
    input: z.strictObject({ pending: z.boolean().default(false) }),
    run: (deps, _identity, { pending }) => listBreakerEvents(deps.db, { unresolvedOnly: pending }),
  }),
  'breakers.resolve': operation({
    permission: 'policy:set',
    summary:
      'Resolve an open circuit-breaker event: one that paused a command type is a change request (someone else approves), others close now. Answers whether one was open.',
    input: z.strictObject({ id: rowIdSchema('expected an event id'), reason: ReasonSchema }),
    run: async (deps, identity, { id, reason }) => {
      const event = await readBreakerEventState(deps.db, id);
      if (!event || event.resolved) return { resolved: false, changeRequest: null };
      const after = { ...event, resolved: true, resolution: reason };
      const changeRequest = await submitChanges(deps, identity, [{ kind: 'breaker_event', target: id, after }], reason);
      return { resolved: changeRequest.applied, changeRequest };
    },
  }),
  'cycle.run': operation({
    permission: 'proposal:decide',
    summary: 'Run the weekly governance cycle now.',
    input: z.strictObject({}),
    run: (deps) =>
      runOnce<GovernanceCycleResult>(deps, GOVERNANCE_CYCLE_WORKFLOW_TYPE, `${GOVERNANCE_CYCLE_WORKFLOW_ID}-manual`),
  }),
  'commandPolicies.list': operation({
    permission: 'read',
    summary: 'Command types with an execution-class policy; any other type is PROD_EXEC.',
    input: z.strictObject({}),
    run: (deps) => listCommandPolicies(deps.db),
  }),
};
