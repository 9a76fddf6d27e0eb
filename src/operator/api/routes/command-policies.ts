import { z } from 'zod';
import { listCommandPolicies } from '../../../db/command-policies.repository';
import { CommandPolicyChangeSchema } from '../../../domain/autonomy/commands';
import { CommandTypeSchema } from '../../../domain/autonomy/phases';
import { ExecutionClassSchema } from '../../../domain/control-plane/types';
import { governedSetterOperations } from '../../operations/governed-setters';
import { runOperation } from '../../operations/operation';
import { submittedReply } from '../../operations/submit-changes';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok } from './shared';

/** What a command type is: its execution class (a type without a policy is PROD_EXEC). Changes are audited. */
export function commandPolicyRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'commandPolicies',
      method: 'GET',
      url: '/command-policies',
      access: 'read',
      summary: 'Command types with an execution-class policy; any other type is PROD_EXEC.',
      handle: async () => ok(await listCommandPolicies(db)),
    }),
    route({
      id: 'setCommandPolicy',
      method: 'POST',
      url: '/command-policies/:type',
      access: 'change:request',
      summary:
        "Propose a command type's execution class (OBSERVE_ONLY, SANDBOX_EXEC or PROD_EXEC) and whether it runs in reduce mode (safeInReduce): stricter applies now (200), looser opens a change request (202).",
      params: z.strictObject({ type: CommandTypeSchema }),
      body: z.strictObject({
        executionClass: ExecutionClassSchema,
        safeInReduce: CommandPolicyChangeSchema.shape.safeInReduce,
        reason: CommandPolicyChangeSchema.shape.reason,
      }),
      // A change request (invariant 8): towards OBSERVE_ONLY applies now (200), away from it waits (202).
      handle: async ({ identity, params, body }) => {
        const op = governedSetterOperations['commandPolicies.set'];
        const submitted = await runOperation(op, deps, identity, { commandType: params.type, ...body });
        const stored = (await listCommandPolicies(db)).find((p) => p.commandType === params.type);
        return submittedReply(submitted, submitted.applied && stored ? { ...stored } : {});
      },
    }),
  ];
}
