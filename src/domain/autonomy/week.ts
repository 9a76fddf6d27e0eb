import { z } from 'zod';
import { ActorSchema, ApprovalTokenSchema, ReasonSchema } from '../control-plane/types';
import { RELEASE_APPROVER_ROLES, RoleSchema } from '../identity/roles';
import { sameIdentity } from '../identity/separation';
import { safeText } from '../shared/validation';

// Issue 19: the weekly governance cycle as one long-lived workflow per ISO week (seed 000's weekly cadence,
// seed 002's cycle). Pure: the week's calendar and the rules of its messages; the workflow keeps the state.

export const WeekIdSchema = z
  .string()
  .regex(/^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$/, 'expected an ISO week such as 2026-W49');

/** The ISO week (Monday-based, the week holding the year's first Thursday is W01) of an instant, in UTC. */
export function isoWeekOf(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the week's Thursday decides its year
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Monday 00:00 UTC of an ISO week. */
export function weekStart(week: string): Date {
  const [year, w] = week.split('-W').map(Number) as [number, number];
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday = new Date(jan4.getTime() - ((jan4.getUTCDay() || 7) - 1) * 86_400_000);
  return new Date(monday.getTime() + (w - 1) * 7 * 86_400_000);
}

export const weeklyGovernanceWorkflowId = (week: string) => `weekly-governance-${week}`;

const HOUR = 3_600_000;

/** The week's moments: the Monday review, its reminder, Friday's decision, and when the week is over. */
export function weekCalendar(week: string, { reminderHourUtc = 12, fridayHourUtc = 23 } = {}) {
  const monday = weekStart(week).getTime();
  return {
    reviewAt: new Date(monday),
    reminderAt: new Date(monday + reminderHourUtc * HOUR),
    fridayAt: new Date(monday + 4 * 24 * HOUR + fridayHourUtc * HOUR),
    // The next week's cycle normally says it started; a week runs at most a day past its end without it.
    endsBy: new Date(monday + 8 * 24 * HOUR),
  };
}

export const HOLD_SCOPES = ['expansion', 'promotions', 'all'] as const;
export type HoldScope = (typeof HOLD_SCOPES)[number];

export const AcknowledgeReviewSchema = z.strictObject({
  actor: ActorSchema,
  note: safeText({ max: 2000, min: 0, multiline: true }).optional(),
});
export const HoldSchema = z.strictObject({
  actor: ActorSchema,
  reason: ReasonSchema,
  scope: z.enum(HOLD_SCOPES, { message: 'expected expansion, promotions or all' }),
});
/**
 * A release is a loosening: an approver role (owner, manager or risk_officer), never whoever held, and a
 * signed approval token for `weekly-governance-<week>:release` when signed approvals are on.
 */
export const ReleaseHoldSchema = z.strictObject({
  actor: ActorSchema,
  reason: ReasonSchema,
  role: RoleSchema.refine((r) => RELEASE_APPROVER_ROLES.includes(r), {
    message: `expected an approver role: ${RELEASE_APPROVER_ROLES.join(', ')}`,
  }).optional(),
  token: ApprovalTokenSchema.optional(),
});
export const NoteSchema = z.strictObject({ actor: ActorSchema, text: safeText({ max: 4000, multiline: true }) });
export const AttestSchema = z.strictObject({
  item: safeText({ max: 100 }),
  passed: z.boolean(),
  actor: ActorSchema,
  note: safeText({ max: 2000, min: 0, multiline: true }).optional(),
});

export type AcknowledgeReview = z.infer<typeof AcknowledgeReviewSchema>;
export type Hold = z.infer<typeof HoldSchema>;
export type ReleaseHold = z.infer<typeof ReleaseHoldSchema>;
export type Note = z.infer<typeof NoteSchema>;
export type Attest = z.infer<typeof AttestSchema>;

const HourSchema = z.number().int().min(0).max(23);
/** When the week's reminder and Friday decision fall (UTC hours), as the Schedule hands them on. */
export const WeekTimingSchema = z.strictObject({
  reminderHourUtc: HourSchema.default(12),
  fridayHourUtc: HourSchema.default(23),
});
export const WeeklyGovernanceKickoffInputSchema = WeekTimingSchema.partial();

export const WeeklyGovernanceInputSchema = z
  .strictObject({
    week: WeekIdSchema,
    reminderHourUtc: HourSchema.default(12),
    fridayHourUtc: HourSchema.default(23),
    /** The state a run hands the next (continue-as-new); a new week starts empty. Checked like any input. */
    state: z.lazy(() => WeekStateSchema).optional(),
  })
  .refine((input) => input.state === undefined || input.state.week === input.week, {
    message: "must be this week's state",
    path: ['state', 'week'],
  });
export type WeeklyGovernanceInput = z.input<typeof WeeklyGovernanceInputSchema>;

/** The Friday step's input when the week runs it: the week, and what its holds suppress. */
export const GovernanceCycleInputSchema = z.strictObject({
  week: WeekIdSchema.optional(),
  suppress: z
    .array(z.enum(['expansion', 'promotions']))
    .max(2)
    .optional(),
});
export type GovernanceCycleInput = z.input<typeof GovernanceCycleInputSchema>;

/** What the Monday review said, in counts: the full review is in its audit event. */
export interface ReviewSummary {
  health: string;
  broke: number;
  denied: number;
  drifted: number;
  waiting: number;
  positionsAtRisk: number;
  unresolvedOutcomes: number;
}

export interface FridayOutcome {
  decidedAt: string;
  reportId: string;
  expand: boolean;
  proposalId: string | null;
  changeRequestId: string | null;
  /** What holds suppressed, said in the report too. */
  held: Suppressed[];
}

export interface WeekState {
  week: string;
  review: { at: string; summary: ReviewSummary } | null;
  acknowledged: { actor: string; note: string | null; at: string } | null;
  reminded: boolean;
  holds: { actor: string; reason: string; scope: HoldScope; at: string }[];
  releases: { actor: string; reason: string; at: string; released: Suppressed[] }[];
  notes: { actor: string; text: string; at: string }[];
  attestations: { item: string; passed: boolean; actor: string; note: string | null; at: string }[];
  friday: FridayOutcome | null;
  nextWeekStarted: boolean;
}

const Instant = z.iso.datetime({ message: 'expected an ISO-8601 instant' });
const Said = safeText({ max: 4000, min: 0, multiline: true });
const SuppressedSchema = z.enum(['expansion', 'promotions']);

/** The week's state as a run hands it over: bounded, typed, every text safe. */
export const WeekStateSchema = z.strictObject({
  week: WeekIdSchema,
  review: z
    .strictObject({
      at: Instant,
      summary: z.strictObject({
        health: safeText({ max: 20 }),
        broke: z.number().int().min(0),
        denied: z.number().int().min(0),
        drifted: z.number().int().min(0),
        waiting: z.number().int().min(0),
        positionsAtRisk: z.number().int().min(0),
        unresolvedOutcomes: z.number().int().min(0),
      }),
    })
    .nullable(),
  acknowledged: z.strictObject({ actor: ActorSchema, note: Said.nullable(), at: Instant }).nullable(),
  reminded: z.boolean(),
  holds: z
    .array(z.strictObject({ actor: ActorSchema, reason: ReasonSchema, scope: HoldSchema.shape.scope, at: Instant }))
    .max(1000),
  releases: z
    .array(
      z.strictObject({
        actor: ActorSchema,
        reason: ReasonSchema,
        at: Instant,
        released: z.array(SuppressedSchema).max(2),
      }),
    )
    .max(1000),
  notes: z.array(z.strictObject({ actor: ActorSchema, text: Said, at: Instant })).max(1000),
  attestations: z
    .array(
      z.strictObject({
        item: safeText({ max: 100 }),
        passed: z.boolean(),
        actor: ActorSchema,
        note: Said.nullable(),
        at: Instant,
      }),
    )
    .max(1000),
  friday: z
    .strictObject({
      decidedAt: Instant,
      reportId: safeText({ max: 200 }),
      expand: z.boolean(),
      proposalId: safeText({ max: 200 }).nullable(),
      changeRequestId: safeText({ max: 200 }).nullable(),
      held: z.array(SuppressedSchema).max(2),
    })
    .nullable(),
  nextWeekStarted: z.boolean(),
}) satisfies z.ZodType<WeekState>;

export const emptyWeek = (week: string): WeekState => ({
  week,
  review: null,
  acknowledged: null,
  reminded: false,
  holds: [],
  releases: [],
  notes: [],
  attestations: [],
  friday: null,
  nextWeekStarted: false,
});

/** The `status` query: the state, and the time left until Friday's decision. */
export interface WeekStatus extends WeekState {
  fridayAt: string;
  msUntilFriday: number;
  /** What Friday will suppress, as the holds stand. */
  suppressed: Suppressed[];
}

/** What a hold can suppress on Friday. */
export type Suppressed = Exclude<HoldScope, 'all'>;

/** What the holds in force suppress: `all` holds both. */
export function suppressedBy(holds: readonly { scope: HoldScope }[]): Suppressed[] {
  const scopes = new Set(holds.flatMap((h) => (h.scope === 'all' ? ['expansion', 'promotions'] : [h.scope])));
  return (['expansion', 'promotions'] as const).filter((s) => scopes.has(s));
}

/**
 * A release is a loosening: it lifts the holds, and only someone other than everyone who placed one
 * may do it (invariant 8). Answers the problem, naming the field, or null.
 */
export function releaseProblem(state: WeekState, release: ReleaseHold): string | null {
  if (state.holds.length === 0) return 'actor: nothing is held this week';
  const own = state.holds.find((h) => sameIdentity(h.actor, release.actor));
  if (own) return `actor: ${release.actor} placed the ${own.scope} hold; a release needs someone other than who held`;
  return null;
}
