import type { ExecutionClass } from '../control-plane/types';
import type { CommandGateDecision } from './commands';

// The command gates' activity contract, implemented by activities/command-gates.ts.
// Workflows proxy it; no Node, no SQL here.

export interface CommandGateActivities {
  /**
   * A command's gate, at its start and again just before its executor: reads
   * the command type's policy and the persisted control-plane state, and
   * decides with decideCommandGate (src/domain/autonomy/commands.ts).
   * Read-only: the workflow records and audits the outcome.
   */
  checkCommandGate(input: {
    commandId: string;
    commandType: string;
    /** A stricter class the producer asked for; never loosens the policy's. */
    requestedClass?: ExecutionClass;
    /** Does the command name its own executor queue? If not, Warden's own queue must serve one. */
    hasExecutorTaskQueue: boolean;
    stage: 'start' | 'pre_execute';
  }): Promise<CommandGateDecision>;
}
