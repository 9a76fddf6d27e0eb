import { z } from 'zod';
import { type EnforcementBlockReason, enforceControlPlane } from '../control-plane/rules';
import { effectiveApplyMode, stricterClass } from '../deals/policy';
import {
  ActorSchema,
  type ApplyMode,
  type ControlPlaneState,
  type ExecutionClass,
  ExecutionClassSchema,
} from '../control-plane/types';
import { safeText, TokenTextSchema, MessagesPerRunSchema } from '../shared/validation';
import type { CommandStatus } from './metrics';
import { ApproverRoleSchema, CommandTypeSchema, type Phase } from './phases';

export const CommandExecutionInputSchema = z.strictObject({
  commandId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected 1-128 letters, digits or . _ : -'),
  commandType: CommandTypeSchema,
  params: z.record(z.string(), z.unknown()).default({}),
  requestedBy: ActorSchema,
  /** How long a non-whitelisted command waits for a human before it is rejected. */
  approvalTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(3600),
  executorTaskQueue: z
    .string()
    .regex(/^\S{1,255}$/)
    .optional(),
  /**
   * A stricter execution class than the command type's policy, if the
   * producer wants one. Never loosens it: the stricter of the two applies.
   */
  executionClass: ExecutionClassSchema.optional(),
  /** Decisions a waiting run takes before it hands over to a new one (a server takes 10,000 signals a run). */
  messagesPerRun: MessagesPerRunSchema.optional(),
});
export type CommandExecutionInput = z.input<typeof CommandExecutionInputSchema>;
export const DEFAULT_COMMAND_MESSAGES_PER_RUN = 500;

export const CommandDecisionSchema = z.strictObject({
  approver: ActorSchema,
  role: ApproverRoleSchema,
  comment: safeText({ max: 2000, multiline: true }).optional(),
  /** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
  token: TokenTextSchema.optional(),
});
export type CommandDecision = z.infer<typeof CommandDecisionSchema>;

/** The gate that denied a command, and why. */
export type CommandGate = 'control_plane' | 'executor';
export type CommandDenialReason = EnforcementBlockReason | 'no_executor';

export type CommandResult =
  | {
      status: Exclude<CommandStatus, 'denied' | 'dry_run'>;
      commandId: string;
      autonomous: boolean;
      phase: Phase;
      detail: string | null;
      /** Since command-governed: the class and effective apply mode the executor was told. */
      executionClass?: ExecutionClass;
      applyMode?: ApplyMode;
    }
  | { status: 'refused'; commandId: string; reason: 'command_type_paused'; phase: Phase }
  | {
      status: 'denied';
      commandId: string;
      gate: CommandGate;
      reason: CommandDenialReason;
      detail: string;
      phase: Phase;
      autonomous: boolean;
      executionClass: ExecutionClass;
    }
  | {
      /** Nothing executed: apply mode dry_run, or an OBSERVE_ONLY command. */
      status: 'dry_run';
      commandId: string;
      autonomous: boolean;
      phase: Phase;
      detail: string;
      executionClass: ExecutionClass;
      applyMode: 'dry_run';
    };

export interface CommandView {
  commandId: string;
  commandType: string;
  stage: 'loading' | 'control_plane' | 'awaiting_approval' | 'pre_execute_check' | 'executing' | 'recording' | 'done';
  autonomous: boolean | null;
  decision: (CommandDecision & { kind: 'approve' | 'reject' }) | null;
  rejectedMessages: number;
  result: CommandResult | null;
}

// ---- What a command type is: its operator-set policy (Warden's, never the producer's) ----

/** A command type with no policy row is treated as production execution: the class the control plane stops first. */
export const DEFAULT_COMMAND_EXECUTION_CLASS: ExecutionClass = 'PROD_EXEC';

export interface CommandPolicy {
  commandType: string;
  executionClass: ExecutionClass;
  /** May run while the kill switch is in reduce mode (SHUTDOWN, SET_POWER to 0…); off by default. */
  safeInReduce: boolean;
  reason: string | null;
  updatedBy: string;
  updatedAt: string;
}

/** A change to one command type's policy, as the CLI and API accept it. */
export const CommandPolicyChangeSchema = z.strictObject({
  commandType: CommandTypeSchema,
  executionClass: ExecutionClassSchema,
  /** Runs in reduce mode; marking a type safe is a loosening. Left out: as it was (off for a new type). */
  safeInReduce: z.boolean().optional(),
  actor: ActorSchema,
  reason: safeText({ max: 2000, minMessage: 'must say why' }),
});
export type CommandPolicyChange = z.infer<typeof CommandPolicyChangeSchema>;

export type CommandGateDecision =
  | { allowed: true; executionClass: ExecutionClass; applyMode: ApplyMode; detail: string | null }
  | {
      allowed: false;
      executionClass: ExecutionClass;
      gate: CommandGate;
      reason: CommandDenialReason;
      detail: string;
    };

/**
 * A command's gate, at its start and again just before its executor: the
 * control plane's rules for deals (seed 000, Lever 1) on the command type's
 * class, the class's cap on the apply mode, and an executor to run it on.
 * `dry_run` (or OBSERVE_ONLY) is allowed with apply mode dry_run: the caller
 * executes nothing.
 */
export function decideCommandGate(input: {
  policyClass: ExecutionClass;
  requestedClass?: ExecutionClass | undefined;
  /** The command type's policy marks it safe in reduce mode. */
  safeInReduce?: boolean | undefined;
  commandType?: string | undefined;
  state: ControlPlaneState;
  executorAvailable: boolean;
}): CommandGateDecision {
  // The same class rules as a deal's (src/domain/deals/policy.ts): a request only tightens.
  const executionClass =
    input.requestedClass === undefined ? input.policyClass : stricterClass(input.policyClass, input.requestedClass);
  const enforced = enforceControlPlane(
    executionClass,
    input.state,
    input.safeInReduce
      ? { reduces: true }
      : {
          reduces: false,
          detail: `command type ${input.commandType ?? 'unknown'} is not marked safe_in_reduce in its policy`,
        },
  );
  if (!enforced.allowed)
    return { allowed: false, executionClass, gate: 'control_plane', reason: enforced.reason, detail: enforced.detail };
  const applyMode = effectiveApplyMode(executionClass, enforced.applyMode);
  if (applyMode === 'dry_run') {
    const detail =
      executionClass === 'OBSERVE_ONLY' ? 'OBSERVE_ONLY: observed, not executed' : 'apply mode dry_run: not executed';
    return { allowed: true, executionClass, applyMode, detail };
  }
  if (!input.executorAvailable)
    return {
      allowed: false,
      executionClass,
      gate: 'executor',
      reason: 'no_executor',
      detail: "no executorTaskQueue, and Warden's own queue serves no command executor",
    };
  const capped =
    applyMode !== enforced.applyMode ? `${executionClass}: ${enforced.applyMode} capped to ${applyMode}` : null;
  return { allowed: true, executionClass, applyMode, detail: capped };
}
