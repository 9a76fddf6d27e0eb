import { z } from 'zod';
import { BreakerRuleSchema } from '../autonomy/breakers';
import { CommandPolicyChangeSchema } from '../autonomy/commands';
import { ApproverRoleSchema, type ApproverRole, APPROVER_ROLES, CommandTypeSchema } from '../autonomy/phases';
import { ActorSchema, ApplyModeSchema, RestrictionSourceSchema } from '../control-plane/types';
import { RoleSchema } from '../identity/roles';
import { ConfidenceSchema, DomainSchema, type HeimdallPolicy } from '../prod-eligibility/rules';
import { EngineSchema, type RiskPolicy } from '../risk/rules';
import { SetExecutionPolicyInputSchema } from '../deals/policy';
import { MaturityLevelSchema } from '../strategy/rules';
import { PolicyIdSchema, RegressionActionSchema, type RegressionPolicy } from '../watchdogs/tripwire';
import { safeText } from '../shared/validation';
import {
  BreakerEventIdSchema,
  BreakerEventStateSchema,
  DealClaimStageSchema,
  DealReleaseTargetSchema,
  ExecutionTokenIdSchema,
  ExecutionTokenTermsSchema,
  PositionQuantitySchema,
  PositionTargetSchema,
  StrategyPauseSchema,
  OPERATIONAL_CHANGE_KINDS,
  type OperationalChangeKind,
  StrategyIdSchema,
} from './operational-changes';

export { StrategyIdSchema };

// The governed state as one document (also `warden policy export`'s format), and the changes between two of
// them. Every section is keyed by what names an entry (engine, DOMAIN/metric, rule name, …), so an error in a
// policy file names the entry and field. Entries are never removed by a change: a policy is retired by
// disabling it (every section has its off switch), which keeps "less policy" from passing as tightening.

const cap = z.number().nonnegative('must be 0 or more').finite().nullable();
const fraction = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

/** An engine's risk caps (seed 000); a null cap is no cap. `paused` is a restriction's, not the policy's. */
export const RiskSettingsSchema = z.strictObject({
  maxDailyLoss: cap,
  maxDailyExposure: cap,
  maxOpenRisk: cap,
  maxActionsPerDay: z.number().int('must be a whole number').nonnegative('must be 0 or more').nullable(),
  enabled: z.boolean(),
  /** Exits pass a reached daily-loss cap; left out, off. Turning it on is a loosening. */
  exitsIgnoreLossCap: z.boolean().optional(),
}) satisfies z.ZodType<Omit<RiskPolicy, 'engine' | 'paused'>>;

/** A regression tripwire, keyed `DOMAIN/metric`. */
export const TripwireSettingsSchema = z.strictObject({
  engine: EngineSchema,
  windowEvents: z.number().int('must be a whole number').positive('must be more than 0'),
  baselineEvents: z.number().int('must be a whole number').positive('must be more than 0'),
  maxDropFraction: z.number().gt(0, 'must be more than 0').max(1, 'must be at most 1'),
  action: RegressionActionSchema,
  enabled: z.boolean(),
  /** The last baseline reset; left out, none. Moving it is a loosening (it forgets what came before). */
  // Kept as the database gives it back, so a file's 23:59:00Z and the stored 23:59:00.000Z are no change.
  baselineSince: z.iso
    .datetime({ offset: true, message: 'expected an ISO time such as 2026-12-04T23:59:00Z' })
    .transform((at) => new Date(at).toISOString())
    .optional(),
}) satisfies z.ZodType<Omit<RegressionPolicy, 'domain' | 'metric'>>;
const TripwireIdSchema = z
  .string()
  .refine((id) => PolicyIdSchema.safeParse(id).success, 'expected DOMAIN/metric, e.g. WHOLESALE/contract_rate');

/** A circuit-breaker rule, keyed by its name; condition and window are checked by BreakerRuleSchema itself. */
const { name: BreakerNameSchema, ...breakerFields } = BreakerRuleSchema.shape;
export const BreakerSettingsSchema = z.strictObject(breakerFields).superRefine((settings, ctx) => {
  const parsed = BreakerRuleSchema.safeParse({ name: 'rule', ...settings });
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom' });
});

/** A Heimdall domain's prod-eligibility policy (seed 000 lever 3). */
export const HeimdallSettingsSchema = z.strictObject({
  minConfidenceProd: ConfidenceSchema,
  minSandboxTrials: z.number().int('must be a whole number').nonnegative('must be 0 or more'),
  minSandboxSuccessRate: fraction,
  prodUseEnabled: z.boolean(),
}) satisfies z.ZodType<Omit<HeimdallPolicy, 'domain'>>;

/** A strategy's level and settings (seed 001). Its pause is the gate's, lifted by no document. */
export const StrategySettingsSchema = z.strictObject({
  level: MaturityLevelSchema,
  enabled: z.boolean(),
  capital: z.number().positive('must be more than 0').finite(),
  tokenRequired: z.boolean(),
  healthFloor: fraction,
});

/** An engine's execution policy: its class and the gates a deal on it needs. */
export const EngineSettingsSchema = SetExecutionPolicyInputSchema.pick({
  executionClass: true,
  strategyRequired: true,
  recommendationRequired: true,
});
/** A command type's policy: its execution class. */
export const CommandTypeSettingsSchema = CommandPolicyChangeSchema.pick({ executionClass: true, safeInReduce: true });

const ApproverNamesSchema = z
  .array(ActorSchema)
  .refine((names) => new Set(names).size === names.length, 'must not name anyone twice');
/** Every approver role's allowlist; a role misspelt is an unrecognized key, named. */
const approverLists = {
  tech_lead: ApproverNamesSchema,
  ops_lead: ApproverNamesSchema,
  product_lead: ApproverNamesSchema,
  exec_sponsor: ApproverNamesSchema,
} satisfies Record<ApproverRole, typeof ApproverNamesSchema>;
export const ControlPlaneSettingsSchema = z.strictObject({ goLive: z.boolean(), applyMode: ApplyModeSchema });

/**
 * A section keyed by `key`. Keys are checked here rather than by z.record's key schema, whose refusal reads
 * only "Invalid key in record": this one names the key and says what was expected.
 */
function keyedBy<V extends z.ZodType>(key: z.ZodType<string>, value: V) {
  return z.record(z.string(), value).superRefine((entries, ctx) => {
    for (const k of Object.keys(entries)) {
      const parsed = key.safeParse(k);
      if (!parsed.success) ctx.addIssue({ code: 'custom', path: [k], message: parsed.error.issues[0]!.message });
    }
  });
}

const sections = {
  risk: keyedBy(EngineSchema, RiskSettingsSchema),
  tripwires: keyedBy(TripwireIdSchema, TripwireSettingsSchema),
  breakers: keyedBy(BreakerNameSchema, BreakerSettingsSchema),
  heimdall: keyedBy(DomainSchema, HeimdallSettingsSchema),
  strategies: keyedBy(StrategyIdSchema, StrategySettingsSchema),
  engines: keyedBy(EngineSchema, EngineSettingsSchema),
  commandTypes: keyedBy(CommandTypeSchema, CommandTypeSettingsSchema),
};

/** The whole governed state, as `readPolicyDocument` reads it. */
export const PolicyDocumentSchema = z.strictObject({
  version: z.literal(1),
  ...sections,
  approvers: z.strictObject(approverLists),
  controlPlane: ControlPlaneSettingsSchema,
});
export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;

/**
 * What a policy file or a request proposes: any subset. An absent section, entry, approver role or
 * control-plane field is unchanged; an entry given is given whole; an approver role given is its whole list.
 */
export const PartialPolicyDocumentSchema = z.strictObject({
  version: z.literal(1).optional(),
  ...Object.fromEntries(Object.entries(sections).map(([k, s]) => [k, s.optional()])),
  approvers: z.strictObject(approverLists).partial().optional(),
  controlPlane: ControlPlaneSettingsSchema.partial().optional(),
}) as unknown as z.ZodType<PartialPolicyDocument>;
export type PartialPolicyDocument = {
  version?: 1;
  approvers?: Partial<Record<ApproverRole, string[]>>;
  controlPlane?: Partial<PolicyDocument['controlPlane']>;
} & { [K in keyof typeof sections]?: PolicyDocument[K] };

// ---- Changes ----

function entryChange<K extends string, T extends z.ZodType, V extends z.ZodType>(kind: K, target: T, value: V) {
  return z.strictObject({ kind: z.literal(kind), target, before: value.nullable(), after: value });
}

export const ApproverEntrySchema = z.strictObject({ role: ApproverRoleSchema, name: ActorSchema });
export const approverTarget = (e: { role: string; name: string }) => `${e.role}:${e.name}`;

/** A key as the change request sees it; its secret never enters a request. */
export const ApiKeyStateSchema = z.strictObject({
  identity: ActorSchema,
  roles: z.array(RoleSchema).min(1, 'must name at least one role'),
  active: z.boolean(),
});
export const ApiKeyIdSchema = z.string().regex(/^[0-9a-f]{12}$/, 'expected an API key id (12 hex digits)');

/**
 * An engine restriction. Cleared (after null): one by id (target the id), or every active one on the engine
 * (target the engine), narrowed by `restriction` and `source`. Placed (before null): `restriction` required.
 */
export const RestrictionEntrySchema = z.strictObject({
  engine: EngineSchema,
  restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }).optional(),
  source: RestrictionSourceSchema.optional(),
});
export const RestrictionTargetSchema = z.union([
  z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected a restriction id such as 42 or an engine'),
  EngineSchema,
]);

export const PolicyChangeSchema = z.discriminatedUnion('kind', [
  entryChange('risk_policy', EngineSchema, RiskSettingsSchema),
  entryChange('regression_policy', TripwireIdSchema, TripwireSettingsSchema),
  entryChange('breaker_rule', BreakerNameSchema, BreakerSettingsSchema),
  entryChange('heimdall_policy', DomainSchema, HeimdallSettingsSchema),
  entryChange('strategy', StrategyIdSchema, StrategySettingsSchema),
  entryChange('execution_policy', EngineSchema, EngineSettingsSchema),
  entryChange('command_policy', CommandTypeSchema, CommandTypeSettingsSchema),
  z
    .strictObject({
      kind: z.literal('approver'),
      target: safeText({ max: 300 }),
      before: ApproverEntrySchema.nullable(),
      after: ApproverEntrySchema.nullable(),
    })
    .refine((c) => (c.before === null) !== (c.after === null), {
      message: 'an approver change adds (before null) or removes (after null) one name',
      path: ['after'],
    })
    .refine((c) => [c.before, c.after].every((e) => e === null || approverTarget(e) === c.target), {
      message: 'must be <approverRole>:<name> of the entry',
      path: ['target'],
    }),
  z
    .strictObject({
      kind: z.literal('execution_token'),
      target: ExecutionTokenIdSchema,
      before: ExecutionTokenTermsSchema.nullable(),
      after: ExecutionTokenTermsSchema,
    })
    .refine((c) => c.before === null, {
      message: 'an execution token is issued once; issue a new one',
      path: ['target'],
    }),
  entryChange('strategy_pause', StrategyIdSchema, StrategyPauseSchema),
  z
    .strictObject({
      kind: z.literal('breaker_event'),
      target: BreakerEventIdSchema,
      before: BreakerEventStateSchema.nullable(),
      after: BreakerEventStateSchema,
    })
    .refine((c) => c.after.resolved, { message: 'a breaker event is resolved, never reopened', path: ['after'] }),
  z.strictObject({
    kind: z.literal('position'),
    target: PositionTargetSchema,
    before: PositionQuantitySchema,
    after: PositionQuantitySchema,
  }),
  z.strictObject({
    kind: z.literal('deal_release'),
    target: DealReleaseTargetSchema,
    before: DealClaimStageSchema.nullable(),
    after: z.literal('released', { message: 'expected released' }),
  }),
  z.strictObject({
    kind: z.literal('api_key'),
    target: ApiKeyIdSchema,
    before: ApiKeyStateSchema.nullable(),
    after: ApiKeyStateSchema,
  }),
  z.discriminatedUnion('target', [
    z.strictObject({
      kind: z.literal('control_plane'),
      target: z.literal('goLive'),
      before: z.boolean(),
      after: z.boolean(),
    }),
    z.strictObject({
      kind: z.literal('control_plane'),
      target: z.literal('applyMode'),
      before: ApplyModeSchema,
      after: ApplyModeSchema,
    }),
  ]),
  z
    .strictObject({
      kind: z.literal('restriction'),
      target: RestrictionTargetSchema,
      before: RestrictionEntrySchema.nullable(),
      after: RestrictionEntrySchema.nullable(),
    })
    .refine((c) => (c.before === null) !== (c.after === null), {
      message: 'a restriction change places (before null) or clears (after null) a restriction',
      path: ['after'],
    })
    .refine((c) => c.after === null || c.after.restriction !== undefined, {
      message: 'placing a restriction names it: throttle or pause',
      path: ['after', 'restriction'],
    }),
]);
export type PolicyChange = z.infer<typeof PolicyChangeSchema>;
export type PolicyChangeKind = PolicyChange['kind'];
export type PolicyChangeOf<K extends PolicyChangeKind> = Extract<PolicyChange, { kind: K }>;
export const POLICY_CHANGE_KINDS = [
  'risk_policy',
  'regression_policy',
  'breaker_rule',
  'heimdall_policy',
  'strategy',
  'execution_policy',
  'command_policy',
  'approver',
  'api_key',
  'control_plane',
  'restriction',
  ...OPERATIONAL_CHANGE_KINDS,
] as const satisfies readonly PolicyChangeKind[];

/** Operational state (a token issued, a pause lifted, a breaker event resolved, a position set). */
export type OperationalChange = PolicyChangeOf<OperationalChangeKind>;
export const isOperational = (c: PolicyChange): c is OperationalChange =>
  (OPERATIONAL_CHANGE_KINDS as readonly string[]).includes(c.kind);

/** Changes that only the control-plane workflow may write (invariant 10): applied after the transaction. */
export type ControlPlaneBoundChange = PolicyChangeOf<'control_plane' | 'restriction'>;
export const isControlPlaneBound = (c: PolicyChange): c is ControlPlaneBoundChange =>
  c.kind === 'control_plane' || c.kind === 'restriction';

// ---- Diff ----

/** Order-independent equality of plain JSON values (key order never makes a change). */
export function samePolicyValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => samePolicyValue(v, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => samePolicyValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Section → change kind, in the document's (and every diff's) order. */
const ENTRY_SECTIONS = [
  ['risk', 'risk_policy'],
  ['tripwires', 'regression_policy'],
  ['breakers', 'breaker_rule'],
  ['heimdall', 'heimdall_policy'],
  ['strategies', 'strategy'],
  ['engines', 'execution_policy'],
  ['commandTypes', 'command_policy'],
] as const satisfies readonly (readonly [keyof typeof sections, PolicyChangeKind])[];

/**
 * What it takes to go from `current` to `proposed`: one change per entry that differs, per approver added
 * or removed, per control-plane field. Absent parts of `proposed` are unchanged. Pure; a stable order
 * (sections as in the document, keys sorted), so the same two documents always give the same list.
 */
export function diffPolicyDocuments(current: PolicyDocument, proposed: PartialPolicyDocument): PolicyChange[] {
  const changes: PolicyChange[] = [];
  for (const [section, kind] of ENTRY_SECTIONS) {
    const wanted: Record<string, unknown> = proposed[section] ?? {};
    const have: Record<string, unknown> = current[section];
    for (const target of Object.keys(wanted).sort(byKey)) {
      const before = have[target] ?? null;
      if (!samePolicyValue(before, wanted[target]))
        changes.push({ kind, target, before, after: wanted[target] } as PolicyChange);
    }
  }
  for (const role of APPROVER_ROLES) {
    const wanted = proposed.approvers?.[role];
    if (!wanted) continue;
    const have = current.approvers[role] ?? [];
    const names = [...new Set([...have, ...wanted])].sort(byKey);
    for (const name of names) {
      const entry = { role, name };
      if (have.includes(name) && !wanted.includes(name))
        changes.push({ kind: 'approver', target: approverTarget(entry), before: entry, after: null });
      else if (!have.includes(name) && wanted.includes(name))
        changes.push({ kind: 'approver', target: approverTarget(entry), before: null, after: entry });
    }
  }
  const cp = proposed.controlPlane ?? {};
  if (cp.goLive !== undefined && cp.goLive !== current.controlPlane.goLive)
    changes.push({ kind: 'control_plane', target: 'goLive', before: current.controlPlane.goLive, after: cp.goLive });
  if (cp.applyMode !== undefined && cp.applyMode !== current.controlPlane.applyMode)
    changes.push({
      kind: 'control_plane',
      target: 'applyMode',
      before: current.controlPlane.applyMode,
      after: cp.applyMode,
    });
  return changes;
}
