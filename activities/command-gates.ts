import type { Kysely } from 'kysely';
import { loadAutonomyContext } from '../src/db/autonomy.repository';
import { commandGatePolicy } from '../src/db/command-policies.repository';
import { readControlPlaneState } from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import type { CommandGateActivities, CommandGateInput } from '../src/domain/autonomy/command-activities';
import { decideCommandGate } from '../src/domain/autonomy/commands';

export interface CommandGateDeps {
  db: Kysely<Database>;
  /** Does this worker serve a command executor on Warden's own queue? (`deps.commandExecutor !== undefined`) */
  commandExecutorServed: boolean;
}

/** The command gates: read (policy, control plane, and at admission the autonomy context) → decide (src/domain/autonomy/commands.ts). */
export function createCommandGateActivities({ db, commandExecutorServed }: CommandGateDeps): CommandGateActivities {
  const gate = async (reader: Kysely<Database>, input: CommandGateInput) => {
    const policy = await commandGatePolicy(reader, input.commandType);
    const state = await readControlPlaneState(reader);
    return decideCommandGate({
      policyClass: policy.executionClass,
      safeInReduce: policy.safeInReduce,
      commandType: input.commandType,
      requestedClass: input.requestedClass,
      state,
      executorAvailable: input.hasExecutorTaskQueue || commandExecutorServed,
    });
  };
  return {
    checkCommandGate: (input) => gate(db, input),

    // One snapshot: the context and the gate agree on one moment of the database.
    admitCommand: (input) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => ({ context: await loadAutonomyContext(trx), gate: await gate(trx, input) })),
  };
}
