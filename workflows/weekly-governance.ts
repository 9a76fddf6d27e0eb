import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import { ATTESTABLE_ITEMS } from '../src/domain/autonomy/readiness-checklist';
import {
  AcknowledgeReviewSchema,
  AttestSchema,
  emptyWeek,
  HoldSchema,
  isoWeekOf,
  NoteSchema,
  ReleaseHoldSchema,
  releaseProblem,
  suppressedBy,
  weekCalendar,
  WeeklyGovernanceInputSchema,
  type WeeklyGovernanceInput,
  WeeklyGovernanceKickoffInputSchema,
  weeklyGovernanceWorkflowId,
  type WeekState,
  type WeekStatus,
  weekStart,
} from '../src/domain/autonomy/week';
import type { WeekActivities, WeekEventKind } from '../src/domain/autonomy/week-activities';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { describeIssues } from '../src/domain/shared/validation';
import { governanceCycle } from './governance-cycle';
import { Visibility } from './lib/visibility';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import { approvalAudience } from '../src/domain/identity/audience';
import { RELEASE_APPROVER_ROLES } from '../src/domain/identity/roles';
import {
  acknowledgeReviewUpdate,
  attestUpdate,
  holdUpdate,
  nextWeekStartedSignal,
  noteUpdate,
  releaseHoldUpdate,
  weekStatusQuery,
} from './messages';

const week$ = proxyActivities<WeekActivities & ApprovalActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumInterval: '1 minute' },
});

/** Since this patch a weeklyGovernance run under any id but its week's fails at once, naming the id. */
export const WEEKLY_GOVERNANCE_ONE_WRITER = 'weekly-governance-one-writer';

/** Since this patch a release is an approval: an approver role, and a signed token when signed approvals are on. */
export const WEEKLY_GOVERNANCE_SIGNED_RELEASE = 'weekly-governance-signed-release';

/** Updates a run takes before it hands its state to the next (well under 10,000 events). */
const MESSAGES_PER_RUN = 500;

/** A validator: synchronous, naming the field; what it refuses never reaches history. */
const validating =
  <S extends z.ZodType>(schema: S, also?: (value: z.output<S>) => string | null) =>
  (payload: unknown) => {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new Error(describeIssues(parsed.error));
    const problem = also?.(parsed.data);
    if (problem) throw new Error(problem);
  };

/**
 * One ISO week of governance (issue 19; seed 000's weekly cadence, seed 002's cycle), id
 * `weekly-governance-<ISO week>`: Monday's review recorded and, unacknowledged by noon, a reminder to
 * the operators; through the week holds (at once), releases (by someone other than who held), notes
 * and attestations, each audited; Friday's cycle with what the holds suppress; then it waits for the
 * next week's cycle to start. Friday's outcomes are change requests and proposals, never direct changes.
 */
export async function weeklyGovernance(rawInput: WeeklyGovernanceInput): Promise<WeekStatus> {
  const input = parseInput(WeeklyGovernanceInputSchema, rawInput, 'weeklyGovernance input');
  const { week } = input;
  const { workflowId, runId } = workflowInfo();
  // One writer per week: its Friday child and its audit keys are the week's, so no other id may run it.
  // Asked only there (as the control plane does), so the week's own history never records the patch.
  if (workflowId !== weeklyGovernanceWorkflowId(week) && patched(WEEKLY_GOVERNANCE_ONE_WRITER))
    throw ApplicationFailure.nonRetryable(
      `workflowId: the week ${week} runs only as ${weeklyGovernanceWorkflowId(week)}; ${workflowId} changes nothing`,
      ErrorType.InvalidInput,
    );
  const state: WeekState = input.state ?? emptyWeek(week);
  const calendar = weekCalendar(week, input);
  let messages = 0;
  const visibility = new Visibility().decide();
  /** The week in the Web UI: where its cycle stands, and who is awaited while the review waits for acknowledgement. */
  const showWeek = (ended = false) => {
    const stage = ended
      ? 'done'
      : state.friday !== null
        ? 'decided'
        : state.review === null
          ? 'before_review'
          : state.acknowledged === null
            ? 'awaiting_acknowledgement'
            : 'before_friday';
    const holds = state.holds.length > 0 ? `; held: ${state.holds.map((h) => h.scope).join(', ')}` : '';
    visibility.show(
      {
        stage,
        awaitingApproval: stage === 'awaiting_acknowledgement' ? RELEASE_APPROVER_ROLES : null,
        ...(ended ? { outcome: 'done' } : {}),
      },
      `Week ${week}: ${stage.replaceAll('_', ' ')}${holds}`,
    );
  };

  const status = (): WeekStatus => ({
    ...state,
    fridayAt: calendar.fridayAt.toISOString(),
    msUntilFriday: Math.max(0, calendar.fridayAt.getTime() - new Date().getTime()),
    suppressed: suppressedBy(state.holds),
  });
  const now = () => new Date().toISOString();
  const audit = (kind: WeekEventKind, actor: string, details: Record<string, unknown>) =>
    week$.auditWeekEvent({ week, kind, actor, details, key: `${workflowId}:${runId}:${messages}:${kind}` });
  /** Every accepted message is audited before the state shows it. */
  const accepted = async <T>(kind: WeekEventKind, actor: string, details: Record<string, unknown>, apply: () => T) => {
    messages += 1;
    await audit(kind, actor, details);
    apply();
    return status();
  };

  setHandler(weekStatusQuery, status, {
    description: "The week's review, holds, notes, attestations, Friday's decision so far and the time left.",
  });
  setHandler(
    acknowledgeReviewUpdate,
    ({ actor, note }) =>
      accepted('acknowledged', actor, { note: note ?? null }, () => {
        state.acknowledged ??= { actor, note: note ?? null, at: now() };
      }),
    {
      validator: validating(AcknowledgeReviewSchema),
      description: 'Attest that the Monday review was read. {"actor": "alice", "note": "…"}',
    },
  );
  setHandler(
    holdUpdate,
    ({ actor, reason, scope }) =>
      accepted('held', actor, { reason, scope }, () => state.holds.push({ actor, reason, scope, at: now() })),
    {
      validator: validating(HoldSchema),
      description:
        'Hold this week\'s expansion, promotions or all of Friday\'s proposals: at once (a tightening). {"actor": "alice", "reason": "…", "scope": "expansion"}',
    },
  );
  setHandler(
    releaseHoldUpdate,
    async ({ actor, reason, role, token }) => {
      // Refused after the fact too (holds may have changed since the validator ran): audited, then answered.
      let problem = releaseProblem(state, { actor, reason });
      // Who says they are an approver proves it (a raw update names any actor): checked off the workflow, never
      // one who held, and the holds checked again after it for any placed meanwhile.
      if (problem === null && patched(WEEKLY_GOVERNANCE_SIGNED_RELEASE)) {
        const verdict = await week$.verifyApproval({
          actor,
          ...(role !== undefined ? { role } : {}),
          acceptable: RELEASE_APPROVER_ROLES,
          ...(token !== undefined ? { token } : {}),
          usedFor: approvalAudience(workflowId, 'releaseHold'),
          excluded: state.holds.map((h) => ({ actor: h.actor, as: `placed the ${h.scope} hold` })),
        });
        problem = verdict.ok ? releaseProblem(state, { actor, reason }) : verdict.problem;
      }
      if (problem !== null) {
        messages += 1;
        await audit('refused', actor, { message: 'release', problem });
        throw ApplicationFailure.nonRetryable(problem, ErrorType.InvalidInput);
      }
      const released = suppressedBy(state.holds);
      return accepted('released', actor, { reason, released }, () => {
        state.releases.push({ actor, reason, at: now(), released });
        state.holds = [];
      });
    },
    {
      validator: validating(ReleaseHoldSchema),
      description:
        'Lift the week\'s holds: a loosening, so an approver role and never whoever held. {"actor": "bob", "role": "risk_officer", "reason": "…", "token": "wtr_… for weekly-governance-<week>:releaseHold (when signed approvals are on)"}',
    },
  );
  setHandler(
    noteUpdate,
    ({ actor, text }) => accepted('noted', actor, { text }, () => state.notes.push({ actor, text, at: now() })),
    { validator: validating(NoteSchema), description: 'A note on the week. {"actor": "alice", "text": "…"}' },
  );
  setHandler(
    attestUpdate,
    async ({ item, passed, actor, note }) => {
      await week$.attestReadiness({ item, passed, actor, ...(note !== undefined ? { note } : {}) });
      return accepted('attested', actor, { item, passed, note: note ?? null }, () =>
        state.attestations.push({ item, passed, actor, note: note ?? null, at: now() }),
      );
    },
    {
      validator: validating(AttestSchema, ({ item }) =>
        ATTESTABLE_ITEMS.includes(item)
          ? null
          : `item: ${item} is not an attestable checklist item; expected one of ${ATTESTABLE_ITEMS.join(', ')}`,
      ),
      description:
        'A readiness attestation (seed 002 checklist). {"item": "…", "passed": true, "actor": "alice", "note": "…"}',
    },
  );
  setHandler(nextWeekStartedSignal, () => void (state.nextWeekStarted = true), {
    description: "The next week's cycle started: this one ends once Friday is decided.",
  });

  /** Waits until `at` (or `done`), handing over to a new run when history or messages grow. */
  const waitUntil = async (at: Date, done: () => boolean = () => false) => {
    showWeek();
    for (;;) {
      const due = () => workflowInfo().continueAsNewSuggested || messages >= MESSAGES_PER_RUN;
      const left = at.getTime() - new Date().getTime();
      if (done() || left <= 0) return;
      await condition(() => done() || due(), left);
      if (due() && !done()) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof weeklyGovernance>({ ...input, state });
      }
    }
  };

  if (state.review === null) {
    await waitUntil(calendar.reviewAt);
    const at = now();
    state.review = { at, summary: await week$.recordWeeklyReview({ week, at }) };
  }
  if (state.acknowledged === null && !state.reminded) {
    await waitUntil(calendar.reminderAt, () => state.acknowledged !== null);
    if (state.acknowledged === null) {
      await audit('review_unacknowledged', 'weekly-governance', {
        deadline: calendar.reminderAt.toISOString(),
        roles: 'owner, manager, risk_officer',
      });
      state.reminded = true;
    }
  }
  if (state.friday === null) {
    await waitUntil(calendar.fridayAt);
    const suppress = suppressedBy(state.holds);
    const result = await executeChild(governanceCycle, {
      workflowId: `governance-cycle-${week}`,
      args: [{ week, ...(suppress.length > 0 ? { suppress } : {}) }],
    });
    state.friday = {
      decidedAt: now(),
      reportId: result.reportId,
      expand: result.expand,
      proposalId: result.proposalId,
      changeRequestId: result.changeRequestId ?? null,
      held: suppress,
    };
    await audit('friday_decided', 'weekly-governance', { ...state.friday, reasons: result.reasons });
  }
  await waitUntil(calendar.endsBy, () => state.nextWeekStarted);
  await condition(allHandlersFinished);
  showWeek(true);
  return status();
}

/**
 * The Monday Schedule's run: starts this ISO week's `weekly-governance-<week>` (once: a second start
 * finds it) and tells last week's that the new week began.
 */
export async function weeklyGovernanceKickoff(
  rawInput: z.input<typeof WeeklyGovernanceKickoffInputSchema> = {},
): Promise<{ week: string; started: boolean }> {
  const timing = parseInput(WeeklyGovernanceKickoffInputSchema, rawInput ?? {}, 'weeklyGovernanceKickoff input');
  const visibility = new Visibility().decide();
  const week = isoWeekOf(new Date());
  let started = true;
  try {
    await startChild(weeklyGovernance, {
      workflowId: weeklyGovernanceWorkflowId(week),
      args: [{ week, ...timing }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    started = false;
  }
  visibility.show(
    { outcome: started ? 'started' : 'already_running' },
    `Week ${week}: ${started ? 'started' : 'already running'}`,
  );
  const previous = isoWeekOf(new Date(weekStart(week).getTime() - 86_400_000));
  // Last week's may have ended already (or never run): nothing to tell.
  await getExternalWorkflowHandle(weeklyGovernanceWorkflowId(previous))
    .signal(nextWeekStartedSignal, { week })
    .catch(() => undefined);
  return { week, started };
}
