import { z } from 'zod';
import { ActorSchema } from '../control-plane/types';
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
});
export type CommandExecutionInput = z.input<typeof CommandExecutionInputSchema>;

export const CommandDecisionSchema = z.strictObject({
  approver: ActorSchema,
  role: ApproverRoleSchema,
  comment: z.string().max(2000).optional(),
  /** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
  token: z.string().min(1).max(4096).optional(),
});
export type CommandDecision = z.infer<typeof CommandDecisionSchema>;

export type CommandResult =
  | { status: CommandStatus; commandId: string; autonomous: boolean; phase: Phase; detail: string | null }
  | { status: 'refused'; commandId: string; reason: 'command_type_paused'; phase: Phase };

export interface CommandView {
  commandId: string;
  commandType: string;
  stage: 'loading' | 'awaiting_approval' | 'executing' | 'recording' | 'done';
  autonomous: boolean | null;
  decision: (CommandDecision & { kind: 'approve' | 'reject' }) | null;
  rejectedMessages: number;
  result: CommandResult | null;
}
