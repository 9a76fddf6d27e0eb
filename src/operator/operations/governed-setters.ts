import { z } from 'zod';
import { readPolicyDocument } from '../../db/policy-state.repository';
import { BreakerRuleSchema } from '../../domain/autonomy/breakers';
import { CommandPolicyChangeSchema } from '../../domain/autonomy/commands';
import { ApproverRoleSchema } from '../../domain/autonomy/phases';
import {
  HeimdallSettingsSchema,
  RiskSettingsSchema,
  StrategyIdSchema,
  StrategySettingsSchema,
  TripwireSettingsSchema,
} from '../../domain/change-requests/changes';
import type { ProposedChange } from '../../domain/change-requests/request';
import { ActorSchema, ReasonSchema } from '../../domain/control-plane/types';
import { SetExecutionPolicyInputSchema } from '../../domain/deals/policy';
import { DomainSchema } from '../../domain/prod-eligibility/rules';
import { EngineSchema } from '../../domain/risk/rules';
import { MetricSchema, policyId } from '../../domain/watchdogs/tripwire';
import { badRequest } from '../api/http';
import { operation, type OperationDeps } from './operation';
import { submitChanges } from './submit-changes';
import type { Identity } from '../../domain/identity/roles';

// The setters of governed policy (invariant 8): each submits its change as a change request. What only
// tightens applies at once and says so; what loosens answers the request, its diff and who must approve.
// The operation names are the ones the CLI has always called; the answer is a ChangeSubmitted. Any write
// role may submit (as it may open a change request): what tightens is open to all, what loosens waits.

const Reason = { reason: ReasonSchema.optional() };

const propose = (
  deps: OperationDeps,
  identity: Identity,
  change: ProposedChange,
  reason: string | undefined,
  what: string,
) => submitChanges(deps, identity, [change], reason ?? what);

/** Engine risk caps, execution policies, tripwires, breakers, approvers, command classes, Heimdall, strategies. */
export const governedSetterOperations = {
  'risk.setPolicy': operation({
    permission: 'change:request',
    summary:
      "Propose an engine's risk policy (caps, enabled): a lower cap applies now, a higher one waits for approval.",
    input: z.strictObject({ policy: z.strictObject({ engine: EngineSchema, ...RiskSettingsSchema.shape }), ...Reason }),
    run: (deps, identity, { policy: { engine, ...after }, reason }) =>
      propose(deps, identity, { kind: 'risk_policy', target: engine, after }, reason, `risk set-policy ${engine}`),
  }),
  'executionPolicy.set': operation({
    permission: 'change:request',
    summary: "Propose an engine's execution class and required gates.",
    input: SetExecutionPolicyInputSchema.omit({ actor: true }),
    run: (deps, identity, { engine, reason, ...after }) =>
      propose(deps, identity, { kind: 'execution_policy', target: engine, after }, reason, 'execution policy'),
  }),
  'tripwire.setPolicy': operation({
    permission: 'change:request',
    summary: 'Propose a regression tripwire (a new one, or a stricter one, applies now).',
    input: z.strictObject({
      policy: z.strictObject({ domain: EngineSchema, metric: MetricSchema, ...TripwireSettingsSchema.shape }),
      ...Reason,
    }),
    run: (deps, identity, { policy: { domain, metric, ...after }, reason }) => {
      const target = policyId({ domain, metric });
      return propose(deps, identity, { kind: 'regression_policy', target, after }, reason, `tripwire ${target}`);
    },
  }),
  'breakers.setRule': operation({
    permission: 'change:request',
    summary: 'Propose a circuit-breaker rule (a new one, or one that trips sooner, applies now).',
    input: z.strictObject({ rule: BreakerRuleSchema, ...Reason }),
    run: (deps, identity, { rule: { name, ...after }, reason }) =>
      propose(deps, identity, { kind: 'breaker_rule', target: name, after }, reason, `breaker rule ${name}`),
  }),
  'approvers.add': operation({
    permission: 'change:request',
    summary: 'Propose a person as approver in an autonomy role (it waits for others’ approval).',
    input: z.strictObject({ role: ApproverRoleSchema, approver: ActorSchema, ...Reason }),
    run: (deps, identity, { role, approver, reason }) =>
      propose(
        deps,
        identity,
        { kind: 'approver', target: `${role}:${approver}`, before: null, after: { role, name: approver } },
        reason,
        `add ${approver} as ${role} approver`,
      ),
  }),
  'approvers.remove': operation({
    permission: 'change:request',
    summary: 'Take a person off an autonomy approver role (applies now).',
    input: z.strictObject({ role: ApproverRoleSchema, approver: ActorSchema, ...Reason }),
    run: (deps, identity, { role, approver, reason }) =>
      propose(
        deps,
        identity,
        { kind: 'approver', target: `${role}:${approver}`, before: { role, name: approver }, after: null },
        reason,
        `remove ${approver} as ${role} approver`,
      ),
  }),
  'commandPolicies.set': operation({
    permission: 'change:request',
    summary: "Propose a command type's execution class (towards OBSERVE_ONLY applies now).",
    input: CommandPolicyChangeSchema.omit({ actor: true }),
    run: async (deps, identity, { commandType, executionClass, safeInReduce, reason }) => {
      // Left out, safe-in-reduce stays as it is.
      const safe = safeInReduce ?? (await readPolicyDocument(deps.db)).commandTypes[commandType]?.safeInReduce;
      return submitChanges(
        deps,
        identity,
        [
          {
            kind: 'command_policy',
            target: commandType,
            after: { executionClass, ...(safe ? { safeInReduce: true } : {}) },
          },
        ],
        reason,
      );
    },
  }),
  'heimdall.set': operation({
    permission: 'change:request',
    summary:
      "Propose a Heimdall domain's prod-eligibility policy: prod use on or off and its thresholds (off, or stricter, applies now).",
    input: z.strictObject({ domain: DomainSchema, ...HeimdallSettingsSchema.partial().shape, ...Reason }),
    run: async (deps, identity, { domain, reason, ...given }) => {
      const current = (await readPolicyDocument(deps.db)).heimdall[domain];
      const after = HeimdallSettingsSchema.safeParse({ prodUseEnabled: false, ...current, ...given });
      if (!after.success)
        throw badRequest(
          `body: ${domain} has no Heimdall policy yet: give minConfidenceProd, minSandboxTrials and minSandboxSuccessRate`,
        );
      return propose(
        deps,
        identity,
        { kind: 'heimdall_policy', target: domain, after: after.data },
        reason,
        `heimdall ${domain}`,
      );
    },
  }),
  'strategy.set': operation({
    permission: 'change:request',
    summary:
      "Propose a strategy's settings (enable, disable, capital, token, health floor); a new one starts at L0, and a level moves only by promotion or demotion.",
    input: z.strictObject({
      id: StrategyIdSchema,
      settings: StrategySettingsSchema.omit({ level: true }).partial(),
      ...Reason,
    }),
    run: async (deps, identity, { id, settings, reason }) => {
      const current = (await readPolicyDocument(deps.db)).strategies[id];
      // A new strategy starts at L0; an existing one keeps its level.
      const defaults = {
        level: 'L0' as const,
        enabled: true,
        capital: 10_000,
        tokenRequired: false,
        healthFloor: 0.25,
      };
      const after = StrategySettingsSchema.parse({ ...defaults, ...current, ...settings });
      return propose(deps, identity, { kind: 'strategy', target: id, after }, reason, `strategy ${id}`);
    },
  }),
};
