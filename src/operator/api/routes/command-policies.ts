import { z } from 'zod';
import { listCommandPolicies, setCommandPolicy } from '../../../db/command-policies.repository';
import { CommandPolicyChangeSchema } from '../../../domain/autonomy/commands';
import { CommandTypeSchema } from '../../../domain/autonomy/phases';
import { ExecutionClassSchema } from '../../../domain/control-plane/types';
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
      access: 'policy:set',
      summary: "Set a command type's execution class (OBSERVE_ONLY, SANDBOX_EXEC or PROD_EXEC), as the caller.",
      params: z.strictObject({ type: CommandTypeSchema }),
      body: z.strictObject({ executionClass: ExecutionClassSchema, reason: CommandPolicyChangeSchema.shape.reason }),
      handle: async ({ identity, params, body }) =>
        ok(
          await setCommandPolicy(db, {
            commandType: params.type,
            executionClass: body.executionClass,
            actor: identity.name,
            reason: body.reason,
          }),
        ),
    }),
  ];
}
