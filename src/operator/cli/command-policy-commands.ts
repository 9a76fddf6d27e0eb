import { CommandPolicyChangeSchema } from '../../domain/autonomy/commands';
import { CommandTypeSchema } from '../../domain/autonomy/phases';
import { ExecutionClassSchema } from '../../domain/control-plane/types';
import { printSubmitted } from './change-commands';
import {
  EXIT,
  expectArgs,
  field,
  givenChanges,
  type Invocation,
  optionalBool,
  printJsonOr,
  sub,
  table,
} from './shared';

// What a command type is: its execution class (issue 13). A type without a policy is PROD_EXEC.

async function commandPolicies({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('command-policies list', args, 0);
  const policies = await ops.call('commandPolicies.list', {});
  printJsonOr(flags, policies, () => [
    ...table(
      ['command_type', 'class', 'safe_in_reduce', 'updated_by', 'updated_at', 'reason'],
      policies.map((p) => [
        p.commandType,
        p.executionClass,
        String(p.safeInReduce),
        p.updatedBy,
        p.updatedAt,
        p.reason,
      ]),
    ),
    'any other command type: PROD_EXEC',
  ]);
  return EXIT.ok;
}

async function commandSetPolicy({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('command-policies set', args, 1);
  const policy = await ops.call('commandPolicies.set', {
    commandType: field('type', CommandTypeSchema, args[0]),
    executionClass: field('--class', ExecutionClassSchema, flags.class),
    ...givenChanges({ safeInReduce: optionalBool('--safe-in-reduce', flags['safe-in-reduce']) }),
    reason: field('--reason', CommandPolicyChangeSchema.shape.reason, flags.reason),
  });
  return printSubmitted(flags, policy);
}

export const commandPolicyCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  'command-policies': sub('command-policies', { list: commandPolicies, set: commandSetPolicy }),
};
