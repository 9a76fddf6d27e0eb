import { z } from 'zod';

export const PHASES = ['L3', 'L3+', 'L4', 'L4+', 'L5'] as const;
export const PhaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof PhaseSchema>;

export const APPROVER_ROLES = ['tech_lead', 'ops_lead', 'product_lead', 'exec_sponsor'] as const;
export const ApproverRoleSchema = z.enum(APPROVER_ROLES);
export type ApproverRole = z.infer<typeof ApproverRoleSchema>;

/** Seed 002's command vocabulary; users may add their own types. */
export const SEED_COMMANDS = [
  'SET_POWER',
  'SET_FAN',
  'SET_DRUM',
  'SET_AIRFLOW',
  'PREHEAT',
  'COOLING_CYCLE',
  'EMERGENCY_SHUTDOWN',
  'ABORT',
] as const;
export const CommandTypeSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected a command type in capitals, e.g. SET_POWER');

export interface PhaseDefinition {
  phase: Phase;
  ordinal: number;
  addedCommands: string[];
  /** L5: every command, user-defined types included. */
  allCommands: boolean;
  validationDays: number | null;
  requiredRoles: ApproverRole[];
}

export const PhaseDefinitionSchema = z.strictObject({
  phase: PhaseSchema,
  ordinal: z.number().int().min(0),
  addedCommands: z.array(CommandTypeSchema),
  allCommands: z.boolean(),
  validationDays: z.number().int().min(1).max(365).nullable(),
  requiredRoles: z.array(ApproverRoleSchema),
});

export function nextPhase(phase: Phase): Phase | undefined {
  return PHASES[PHASES.indexOf(phase) + 1];
}

/** The commands that run without a human at `phase`: each phase adds to the ones before it. */
export function whitelistFor(
  definitions: PhaseDefinition[],
  phase: Phase,
): { commands: string[]; allCommands: boolean } {
  const upTo = definitions.filter((d) => d.ordinal <= PHASES.indexOf(phase)).sort((a, b) => a.ordinal - b.ordinal);
  return { commands: upTo.flatMap((d) => d.addedCommands), allCommands: upTo.some((d) => d.allCommands) };
}

export function isWhitelisted(whitelist: { commands: string[]; allCommands: boolean }, commandType: string): boolean {
  return whitelist.allCommands || whitelist.commands.includes(commandType);
}
