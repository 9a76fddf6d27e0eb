import { z } from 'zod';
import { bandWithin, type CapitalBand } from '../capital/bands';
import { ActorSchema, ReasonSchema } from '../control-plane/primitives';
import type { HealthStatus } from '../system-health/rules';
import { RELEASE_APPROVER_ROLES } from '../identity/roles';
import type { ApprovalClaimCheck as ApproverCheck } from '../identity/approval-check';
import { checkSeparation } from '../identity/separation';
import { describeIssues, safeText, TokenTextSchema, MessagesPerRunSchema } from '../shared/validation';
import { PLAYBOOK_STEP_IDS } from './steps';

export { PLAYBOOK_STEP_IDS };
export type PlaybookStepId = (typeof PLAYBOOK_STEP_IDS)[number];

export interface PlaybookStep {
  id: PlaybookStepId;
  title: string;
  /** What the operator is expected to show as evidence. */
  evidence: string;
  /** The worst capital band in which the step may be done. */
  worstBand: CapitalBand;
  proceedWhileRed: boolean;
  /** Done only by someone holding a go-live approver role (seed 004: owner, manager, risk officer). */
  needsApprover: boolean;
}

// Until the GLOBAL cap is reviewed (step 2) there may be none, which reads as
// band D: the first three steps tolerate it. From the watchdogs on, a launch
// rehearses with headroom (C at worst); confirming capital and signing off
// need real headroom (A or B).
export const PLAYBOOK: readonly PlaybookStep[] = [
  {
    id: 'preflight',
    title: 'Preflight: database migrated, seed policies present',
    evidence:
      '`warden migrate` has nothing pending; `warden risk policies` lists GLOBAL, WHOLESALE, CAPITAL and NOTIFY; Heimdall and tripwire seed policies present; `warden status` reads',
    worstBand: 'D',
    proceedWhileRed: true,
    needsApprover: false,
  },
  {
    id: 'risk_policies_reviewed',
    title: 'Risk policies reviewed',
    evidence:
      'GLOBAL and per-engine caps (daily exposure, daily loss, open risk, actions per day) checked against the launch budget; the GLOBAL daily exposure cap is set',
    worstBand: 'D',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'prod_gates_reviewed',
    title: 'Production gates reviewed',
    evidence:
      'Heimdall prod-eligibility policies (confidence, sandbox trials, success rate) and which domains have prod use on; strategy maturity levels and tokens',
    worstBand: 'D',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'watchdogs_running',
    title: 'Watchdog schedules running',
    evidence:
      'tripwire, canary and governance-cycle schedules exist with recent runs (`warden schedules apply`, Temporal UI); `warden canary status` passing',
    worstBand: 'C',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'kill_switch_drill',
    title: 'Kill-switch drill',
    evidence:
      'kill switch engaged and released (audit event ids); a PROD_EXEC action was denied kill_switch_engaged while it was engaged',
    worstBand: 'C',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'alerts_routed',
    title: 'Alerts routed',
    evidence:
      'a test notification reached the on-call webhook and the Alertmanager receiver (receiver name, delivery time)',
    worstBand: 'C',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'dry_run_reviewed',
    title: 'Dry run reviewed',
    evidence:
      'deals in apply mode dry_run passed every gate; `warden risk ledger` shows the expected denials only and nothing left reserved',
    worstBand: 'C',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'capital_band_confirmed',
    title: 'Capital band confirmed',
    evidence: 'current band and usage of the GLOBAL daily cap; the launch sizing fits in the headroom left',
    worstBand: 'B',
    proceedWhileRed: false,
    needsApprover: false,
  },
  {
    id: 'sign_off',
    title: 'Sign-off by an approver',
    evidence: 'the approver’s statement or change-ticket reference',
    worstBand: 'B',
    proceedWhileRed: false,
    needsApprover: true,
  },
];

export const PlaybookStepIdSchema = z.enum(PLAYBOOK_STEP_IDS, {
  message: `expected one of ${PLAYBOOK_STEP_IDS.join(', ')}`,
});

/** `completePlaybookStep` (update and signal): plain JSON, so operators can send it with the Temporal CLI or UI. */
export const CompleteStepPayloadSchema = z.strictObject({
  step: PlaybookStepIdSchema,
  actor: ActorSchema,
  evidence: safeText({ max: 4000, multiline: true, minMessage: 'must describe the evidence' }),
  role: safeText({ max: 64 }).optional(),
  /** A signed approval token (required for sign_off when signed approvals are on). */
  token: TokenTextSchema.optional(),
});
export type CompleteStepPayload = z.infer<typeof CompleteStepPayloadSchema>;

export const AbandonPayloadSchema = z.strictObject({ actor: ActorSchema, reason: ReasonSchema });
export type AbandonPayload = z.infer<typeof AbandonPayloadSchema>;

export const PlaybookInputSchema = z.strictObject({
  startedBy: ActorSchema,
  /** Steps and abandonments a run takes before it hands over to a new one (a server takes 10,000 signals a run). */
  messagesPerRun: MessagesPerRunSchema.optional(),
});
export type PlaybookInput = z.infer<typeof PlaybookInputSchema>;
export const DEFAULT_PLAYBOOK_MESSAGES_PER_RUN = 500;

export type PlaybookStatus = 'in_progress' | 'completed' | 'abandoned';

/** One done step, as stored in `go_live_playbook.steps`. */
export interface StepRecord {
  step: PlaybookStepId;
  actor: string;
  evidence: string;
  role: string | null;
  at: string;
  band: CapitalBand;
  health: HealthStatus;
}

export type StepRefusalReason =
  'playbook_closed' | 'out_of_order' | 'health_red' | 'band_exceeded' | 'approver_required' | 'separation_of_duties';

export interface StepRefusal {
  step: string;
  actor: string;
  reason: StepRefusalReason | 'invalid_payload';
  detail: string;
  at: string;
}

export interface PlaybookProgress {
  playbookId: string;
  status: PlaybookStatus;
  startedBy: string;
  startedAt: string;
  completedAt: string | null;
  done: StepRecord[];
  /** The step to do next; null once the playbook is closed or complete. */
  nextStep: PlaybookStepId | null;
  abandoned: { actor: string; reason: string; at: string } | null;
  /** The latest refusals, newest last (validator rejections of updates leave no trace here). */
  refusals: StepRefusal[];
}

/** What the workflow learns from the world before judging a step. */
export interface GoLiveConditions {
  band: CapitalBand;
  health: HealthStatus;
  /** Why health is not GREEN, one line each. */
  healthReasons: string[];
  /**
   * The actor's credentials: checked for a step that needs an approver, and for any step that came with
   * a token or, with signed approvals on, must; null otherwise.
   */
  approver: ApproverCheck | null;
}

/** What a `completePlaybookStep` update answers: a refusal is a result, not an error. */
export type StepResult =
  | { status: 'accepted'; step: PlaybookStepId; progress: PlaybookProgress }
  | { status: 'refused'; step: string; reason: StepRefusal['reason']; detail: string; progress: PlaybookProgress };

export type StepDecision = { accepted: true } | { accepted: false; reason: StepRefusalReason; detail: string };

export function stepById(id: PlaybookStepId): PlaybookStep {
  return PLAYBOOK.find((s) => s.id === id)!;
}

export function nextStepOf(progress: Pick<PlaybookProgress, 'status' | 'done'>): PlaybookStepId | null {
  if (progress.status !== 'in_progress') return null;
  return PLAYBOOK_STEP_IDS[progress.done.length] ?? null;
}

function orderProblem(
  progress: PlaybookProgress,
  step: PlaybookStepId,
): { reason: StepRefusalReason; problem: string } | null {
  if (progress.status !== 'in_progress')
    return { reason: 'playbook_closed', problem: `step: playbook ${progress.playbookId} is ${progress.status}` };
  const next = nextStepOf(progress);
  if (step === next) return null;
  const done = progress.done.some((d) => d.step === step);
  return {
    reason: 'out_of_order',
    problem: `step: '${step}' ${done ? 'is already done' : 'is out of order'}; the next step is '${next}'`,
  };
}

function roleProblem(step: PlaybookStep, role: string | undefined): string | null {
  if (!step.needsApprover || (role !== undefined && (RELEASE_APPROVER_ROLES as readonly string[]).includes(role)))
    return null;
  return `role: ${step.id} must be done in an approver role (${RELEASE_APPROVER_ROLES.join(', ')})`;
}

/**
 * What an update's validator refuses synchronously: the shape, the order,
 * and a sign-off that names no approver role. Each problem names its field.
 */
export function checkStepRequest(
  progress: PlaybookProgress,
  payload: unknown,
):
  | { ok: true; request: CompleteStepPayload }
  | { ok: false; reason: StepRefusalReason | 'invalid_payload'; problem: string } {
  const parsed = CompleteStepPayloadSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, reason: 'invalid_payload', problem: describeIssues(parsed.error) };
  const request = parsed.data;
  const order = orderProblem(progress, request.step);
  if (order) return { ok: false, ...order };
  const role = roleProblem(stepById(request.step), request.role);
  if (role) return { ok: false, reason: 'approver_required', problem: role };
  return { ok: true, request };
}

/** Whether a step may be done now: order, then health, then capital band, then the approver's credentials. */
export function decideStep(
  progress: PlaybookProgress,
  step: PlaybookStep,
  conditions: GoLiveConditions,
  payload: CompleteStepPayload,
): StepDecision {
  const order = orderProblem(progress, step.id);
  if (order) return { accepted: false, reason: order.reason, detail: order.problem };
  if (conditions.health === 'RED' && !step.proceedWhileRed) {
    return {
      accepted: false,
      reason: 'health_red',
      detail: `health is RED (${conditions.healthReasons.join('; ') || 'no reason given'}): only preflight may proceed`,
    };
  }
  if (!bandWithin(conditions.band, step.worstBand)) {
    return {
      accepted: false,
      reason: 'band_exceeded',
      detail: `capital band ${conditions.band} is past ${step.worstBand}, the worst ${step.id} tolerates`,
    };
  }
  if (step.needsApprover) {
    const role = roleProblem(step, payload.role);
    if (role) return { accepted: false, reason: 'approver_required', detail: role };
    if (conditions.approver === null || !conditions.approver.ok) {
      return {
        accepted: false,
        reason: 'approver_required',
        detail: conditions.approver?.problem ?? `${step.id}: the approver's role was not checked`,
      };
    }
  }
  // Credentials checked for any other step (every step, with signed approvals on) count only if they hold.
  if (conditions.approver !== null && !conditions.approver.ok)
    return { accepted: false, reason: 'approver_required', detail: conditions.approver.problem };
  return { accepted: true };
}

/**
 * The sign-off vouches for the other eight steps, so it comes from someone who
 * did none of them. Decided where the step is recorded, with the row locked.
 */
export function signOffProblem(done: readonly StepRecord[], actor: string): string | null {
  const others = done.filter((d) => d.step !== 'sign_off').map((d) => ({ actor: d.actor, as: `did ${d.step}` }));
  const check = checkSeparation(actor, others);
  return check.ok ? null : check.problem;
}
