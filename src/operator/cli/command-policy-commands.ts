import { CommandPolicyChangeSchema } from '../../domain/autonomy/commands';
import { CommandTypeSchema } from '../../domain/autonomy/phases';
import { ExecutionClassSchema } from '../../domain/control-plane/types';
import { actorOf, EXIT, expectArgs, field, type Invocation, printJsonOr, sub, table, withData } from './shared';

// What a command type is: its execution class (issue 13). A type without a policy is PROD_EXEC.

async function commandPolicies({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('command-policies list', args, 0);
  return withData(config, async (data) => {
    const policies = await data.listCommandPolicies();
    printJsonOr(flags, policies, () => [
      ...table(
        ['command_type', 'class', 'updated_by', 'updated_at', 'reason'],
        policies.map((p) => [p.commandType, p.executionClass, p.updatedBy, p.updatedAt, p.reason]),
      ),
      'any other command type: PROD_EXEC',
    ]);
    return EXIT.ok;
  });
}

async function commandSetPolicy({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('command-policies set', args, 1);
  const change = CommandPolicyChangeSchema.parse({
    commandType: field('type', CommandTypeSchema, args[0]),
    executionClass: field('--class', ExecutionClassSchema, flags.class),
    actor: actorOf(flags),
    reason: field('--reason', CommandPolicyChangeSchema.shape.reason, flags.reason),
  });
  return withData(config, async (data) => {
    const policy = await data.setCommandPolicy(change);
    printJsonOr(flags, policy, () => [`${policy.commandType}: ${policy.executionClass} (by ${policy.updatedBy})`]);
    return EXIT.ok;
  });
}

export const commandPolicyCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  'command-policies': sub('command-policies', { list: commandPolicies, set: commandSetPolicy }),
};
