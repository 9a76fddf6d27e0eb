import type { Kysely } from 'kysely';
import { commandExecutionClass } from '../src/db/command-policies.repository';
import { readControlPlaneState } from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import type { CommandGateActivities } from '../src/domain/autonomy/command-activities';
import { decideCommandGate } from '../src/domain/autonomy/commands';

export interface CommandGateDeps {
  db: Kysely<Database>;
  /** Does this worker serve a command executor on Warden's own queue? (`deps.commandExecutor !== undefined`) */
  commandExecutorServed: boolean;
}

/** The command gates: read (policy, control plane) → decide (src/domain/autonomy/commands.ts). */
export function createCommandGateActivities({ db, commandExecutorServed }: CommandGateDeps): CommandGateActivities {
  return {
    async checkCommandGate(input) {
      const [policyClass, state] = await Promise.all([
        commandExecutionClass(db, input.commandType),
        readControlPlaneState(db),
      ]);
      return decideCommandGate({
        policyClass,
        requestedClass: input.requestedClass,
        state,
        executorAvailable: input.hasExecutorTaskQueue || commandExecutorServed,
      });
    },
  };
}
