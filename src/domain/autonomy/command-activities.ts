import type { ExecutionClass } from '../control-plane/types';
import type { AutonomyContext } from './activities';
import type { CommandGateDecision } from './commands';

// The command gates' activity contract, implemented by activities/command-gates.ts.
// Workflows proxy it; no Node, no SQL here.

/** What the command gate reads of a command. */
export interface CommandGateInput {
  commandId: string;
  commandType: string;
  /** A stricter class the producer asked for; never loosens the policy's. */
  requestedClass?: ExecutionClass;
  /** Does the command name its own executor queue? If not, Warden's own queue must serve one. */
  hasExecutorTaskQueue: boolean;
}

/** A command's admission: the autonomy context it runs under and its first gate, read together. */
export interface CommandAdmission {
  context: AutonomyContext;
  gate: CommandGateDecision;
}

export interface CommandGateActivities {
  /**
   * Since command-admitted-at-once: what a command needs before anyone is asked — the phase, whitelist,
   * paused types and approvers, and its gate at the start — in one local activity and one transaction.
   * Read-only, like the gate.
   */
  admitCommand(input: CommandGateInput): Promise<CommandAdmission>;

  /**
   * A command's gate, at its start and again just before its executor: reads
   * the command type's policy and the persisted control-plane state, and
   * decides with decideCommandGate (src/domain/autonomy/commands.ts).
   * Read-only: the workflow records and audits the outcome.
   */
  checkCommandGate(input: CommandGateInput & { stage: 'start' | 'pre_execute' }): Promise<CommandGateDecision>;
}
