import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { GoLiveActivities } from '../src/domain/go-live/activities';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import {
  AbandonPayloadSchema,
  checkStepRequest,
  DEFAULT_PLAYBOOK_MESSAGES_PER_RUN,
  decideStep,
  nextStepOf,
  PLAYBOOK,
  type PlaybookInput,
  PlaybookInputSchema,
  type PlaybookProgress,
  type StepRefusal,
  type StepResult,
  stepById,
} from '../src/domain/go-live/playbook';
import { describeIssues } from '../src/domain/shared/validation';
import { splitCarried } from './lib/continued';
import { Mailbox } from './lib/mailbox';
import {
  abandonPlaybookSignal,
  abandonPlaybookUpdate,
  completePlaybookStepSignal,
  completePlaybookStepUpdate,
  playbookProgressQuery,
} from './messages';
import { Visibility } from './lib/visibility';

const goLive = proxyActivities<GoLiveActivities>({
  startToCloseTimeout: '30 seconds',
  // A database outage delays a step, never loses it.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Since this patch a playbook hands over to a new run after its message budget, or when the server
 * suggests it: a flood of refused messages grew one run's history to the server's limit, and the server
 * terminated the playbook.
 */
const PLAYBOOK_ROLLS_OVER = 'playbook-rolls-over';

/** What a run continued as new carries: the playbook as the last run left it. */
interface CarriedPlaybook {
  progress: PlaybookProgress;
}
/** The start payload, plus what only a run continued as new carries. */
export type PlaybookRun = PlaybookInput & { carried?: CarriedPlaybook };

type Message = { kind: 'step' | 'abandon'; payload: unknown };
type Answer = StepResult | { status: 'abandoned'; progress: PlaybookProgress };
const KEPT_REFUSALS = 20;

const field = (payload: unknown, name: string): string =>
  typeof payload === 'object' && payload !== null && typeof (payload as Record<string, unknown>)[name] === 'string'
    ? String((payload as Record<string, unknown>)[name]).slice(0, 200)
    : 'unknown';

/**
 * Seed 004 PACK H: the nine go-live steps, in order, each done by an operator
 * with evidence and judged against the capital band and health at that
 * moment. Steps and abandonment arrive as updates or signals and are handled
 * one at a time, so two operators can never both do the same step.
 */
export async function goLivePlaybook(rawInput: PlaybookRun): Promise<PlaybookProgress> {
  const { carried, start } = splitCarried<CarriedPlaybook>(rawInput);
  const input = parseInput(PlaybookInputSchema, start, 'goLivePlaybook input');
  // Every run of one playbook records as its first run: the audit's idempotency keys, the request a token pays for.
  const { workflowId: playbookId, firstExecutionRunId: runId } = workflowInfo();
  const messagesPerRun = input.messagesPerRun ?? DEFAULT_PLAYBOOK_MESSAGES_PER_RUN;
  let messages = 0;
  const due = () => messages >= messagesPerRun || workflowInfo().continueAsNewSuggested;
  const progress: PlaybookProgress = carried?.progress ?? {
    playbookId,
    status: 'in_progress',
    startedBy: input.startedBy,
    startedAt: new Date().toISOString(),
    completedAt: null,
    done: [],
    nextStep: 'preflight',
    abandoned: null,
    refusals: [],
  };
  // Steps and abandonment, one at a time in arrival order; an update's caller waits for its answer.
  const mailbox = new Mailbox<Message, Answer>();

  const refuse = async (
    message: Message,
    id: string,
    step: string,
    reason: StepRefusal['reason'],
    detail: string,
  ): Promise<StepResult> => {
    const refusal: StepRefusal = {
      step,
      actor: field(message.payload, 'actor'),
      reason,
      detail,
      at: new Date().toISOString(),
    };
    progress.refusals = [...progress.refusals, refusal].slice(-KEPT_REFUSALS);
    await goLive.auditPlaybookRefusal({ playbookId, refusal, payload: message.payload ?? null, key: id });
    return { status: 'refused', step, reason, detail, progress };
  };

  const doStep = async (message: Message, id: string): Promise<StepResult> => {
    const check = checkStepRequest(progress, message.payload);
    if (!check.ok) return refuse(message, id, field(message.payload, 'step'), check.reason, check.problem);
    const request = check.request;
    const step = stepById(request.step);
    const conditions = await goLive.assessGoLiveConditions({
      playbookId,
      runId,
      step: step.id,
      actor: request.actor,
      ...(request.role ? { role: request.role } : {}),
      ...(request.token ? { token: request.token } : {}),
    });
    const decision = decideStep(progress, step, conditions, request);
    if (!decision.accepted) return refuse(message, id, step.id, decision.reason, decision.detail);
    const record = {
      step: step.id,
      actor: request.actor,
      evidence: request.evidence,
      role: request.role ?? null,
      at: new Date().toISOString(),
      band: conditions.band,
      health: conditions.health,
    };
    const token = conditions.approver?.ok ? conditions.approver.token : undefined;
    const recording = await goLive.recordPlaybookStep({ playbookId, runId, record, ...(token ? { token } : {}) });
    if (!recording.recorded)
      return refuse(message, id, step.id, recording.reason ?? 'approver_required', recording.problem);
    progress.done.push(record);
    progress.nextStep = nextStepOf(progress);
    if (progress.done.length === PLAYBOOK.length) {
      const at = new Date().toISOString();
      await goLive.closeGoLivePlaybook({ playbookId, runId, status: 'completed', actor: request.actor, at });
      progress.status = 'completed';
      progress.completedAt = at;
      progress.nextStep = null;
    }
    return { status: 'accepted', step: step.id, progress };
  };

  const abandon = async (message: Message, id: string): Promise<Answer> => {
    const parsed = AbandonPayloadSchema.safeParse(message.payload);
    if (!parsed.success) return refuse(message, id, 'abandon', 'invalid_payload', describeIssues(parsed.error));
    if (progress.status !== 'in_progress')
      return refuse(message, id, 'abandon', 'playbook_closed', `playbook ${playbookId} is ${progress.status}`);
    const at = new Date().toISOString();
    await goLive.closeGoLivePlaybook({
      playbookId,
      runId,
      status: 'abandoned',
      actor: parsed.data.actor,
      reason: parsed.data.reason,
      at,
    });
    progress.status = 'abandoned';
    progress.abandoned = { ...parsed.data, at };
    progress.nextStep = null;
    return { status: 'abandoned', progress };
  };

  // Signals never throw: whatever arrives is queued, judged in order, and a refusal audited.
  const enqueue = (kind: Message['kind']) => (payload: unknown) => {
    messages += 1;
    mailbox.post({ kind, payload });
  };
  // Updates are checked first by their validator, which names the field at fault to the caller.
  const ask = (kind: Message['kind'], payload: unknown): Promise<Answer> => {
    messages += 1;
    return mailbox.ask({ kind, payload });
  };
  const rejectInvalid = (problem: string | null) => {
    if (problem !== null) throw ApplicationFailure.nonRetryable(problem, ErrorType.PlaybookMessageRejected);
  };

  setHandler(completePlaybookStepSignal, enqueue('step'), {
    description: 'Complete the next step. {"step": "preflight", "actor": "alice", "evidence": "…", "role": "manager"}',
  });
  // A step message is answered by doStep, hence always with a StepResult.
  setHandler(completePlaybookStepUpdate, async (payload) => (await ask('step', payload)) as StepResult, {
    validator: (payload) => {
      const check = checkStepRequest(progress, payload);
      rejectInvalid(check.ok ? null : check.problem);
    },
    description:
      'Complete the next step and hear whether it counted. {"step": "preflight", "actor": "alice", "evidence": "…"}',
  });
  setHandler(abandonPlaybookSignal, enqueue('abandon'), {
    description: 'Abandon this playbook. {"actor": "alice", "reason": "…"}',
  });
  setHandler(
    abandonPlaybookUpdate,
    async (payload) => {
      const result = await ask('abandon', payload);
      if (result.status === 'refused')
        throw ApplicationFailure.nonRetryable(result.detail, ErrorType.PlaybookMessageRejected);
      return result.progress;
    },
    {
      validator: (payload) => {
        const parsed = AbandonPayloadSchema.safeParse(payload);
        rejectInvalid(
          !parsed.success
            ? describeIssues(parsed.error)
            : progress.status !== 'in_progress'
              ? `playbook ${playbookId} is ${progress.status}`
              : null,
        );
      },
      description: 'Abandon this playbook. {"actor": "alice", "reason": "…"}',
    },
  );
  setHandler(playbookProgressQuery, () => progress, { description: 'Steps done, the next step, refusals and status.' });

  const visibility = new Visibility().decide();
  const showProgress = () =>
    visibility.show(
      {
        stage: progress.status === 'in_progress' ? (progress.nextStep ?? 'in_progress') : progress.status,
        ...(progress.status !== 'in_progress' ? { outcome: progress.status } : {}),
      },
      progress.status === 'in_progress'
        ? `Go-live playbook: ${progress.done.length} step(s) done, next: ${progress.nextStep ?? 'none'}`
        : `Go-live playbook ${progress.status}`,
    );
  if (carried === undefined)
    await goLive.openGoLivePlaybook({ playbookId, runId, startedBy: input.startedBy, startedAt: progress.startedAt });
  // Messages still queued when the playbook closes are answered (refused), so no caller waits forever.
  while (progress.status === 'in_progress' || mailbox.size > 0) {
    showProgress();
    await condition(() => mailbox.size > 0);
    await mailbox.drain((message, id) => (message.kind === 'step' ? doStep(message, id) : abandon(message, id)));
    // Hands over once every message is judged and every update answered: nothing in flight is lost.
    if (progress.status === 'in_progress' && due() && patched(PLAYBOOK_ROLLS_OVER)) {
      await condition(allHandlersFinished);
      if (mailbox.size === 0)
        return continueAsNew<typeof goLivePlaybook>({
          startedBy: input.startedBy,
          ...(input.messagesPerRun !== undefined ? { messagesPerRun: input.messagesPerRun } : {}),
          carried: { progress },
        });
    }
  }
  await condition(allHandlersFinished);
  showProgress();
  return progress;
}
