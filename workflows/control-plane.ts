import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlPlaneActivities } from '../src/domain/control-plane/activities';
import { coerceEngage, oversizedProblem } from '../src/domain/control-plane/engage';
import { tradingStateOf } from '../src/domain/control-plane/rules';
import {
  type ChangeOutcome,
  type ChangeResult,
  ChangeControlPlaneInputSchema,
  type ControlPlaneChange,
  type ControlPlaneChangeKind,
  controlPlaneChangeSchemas,
  type ControlPlaneInput,
  ControlPlaneInputSchema,
  type ControlPlaneState,
  type EngageKillSwitchInput,
  MAX_CONTROL_PLANE_QUEUE,
} from '../src/domain/control-plane/types';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { CONTROL_PLANE_WORKFLOW_ID } from './names';
import { describeIssues, storablePayload, storableText } from '../src/domain/shared/validation';
import { Mailbox } from './lib/mailbox';
import { Visibility } from './lib/visibility';
import { RELEASE_APPROVER_ROLES } from '../src/domain/identity/roles';
import {
  changeControlPlaneUpdate,
  clearEngineRestrictionSignal,
  controlPlaneStateQuery,
  declineKillSwitchReleaseSignal,
  engageKillSwitchSignal,
  refreshCapitalBandSignal,
  releaseKillSwitchSignal,
  restrictEngineSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from './messages';

const {
  loadControlPlaneState,
  persistControlPlaneChange,
  auditRejectedSignal,
  auditDroppedChange,
  auditQueueOverflow,
} = proxyActivities<ControlPlaneActivities>({
  startToCloseTimeout: '15 seconds',
  // A database outage must delay a change, never drop it; the activities give
  // up (non-retryably) only on a fault in the change itself, so nothing jams the queue.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Malformed engages engage, engages jump the queue, and a change the database
 * will not take is audited and dropped instead of blocking the queue.
 */
export const UNJAMMABLE_CONTROL_PLANE = 'unjammable-control-plane';

/**
 * A run due to continue as new stops draining, answers its updates and engages, and hands the
 * signals still queued to the next run: under sustained traffic the queue is never empty, and a run
 * that waited for it would grow its history until Temporal ends it.
 */
export const CONTROL_PLANE_HANDS_OVER = 'control-plane-hands-over';

/**
 * One writer per control state (invariant 10): since this patch a controlPlane run under any other
 * workflow id writes nothing and fails at once, naming the id. Checked only there, so the control
 * plane's own history never records the patch.
 */
export const CONTROL_PLANE_ONE_WRITER = 'control-plane-one-writer';

/**
 * A change to persist, or a bad payload to audit; one at a time. A malformed
 * engage carries the engage built from it (`engage`), which still takes effect.
 */
type Queued =
  | { ok: true; change: ControlPlaneChange }
  | { ok: false; signal: string; payload: unknown; problem: string; engage?: EngageKillSwitchInput };

const isEngage = (item: Queued): boolean =>
  item.ok ? item.change.kind === 'engageKillSwitch' : item.engage !== undefined;

const descriptions: Record<ControlPlaneChangeKind, string> = {
  setGoLive:
    'Turn production execution on or off; on applies an approved change request. {"enabled": true, "actor": "alice", "reason": "…", "changeRequestId": "cr-0123456789ab"}',
  engageKillSwitch:
    'Stop PROD_EXEC actions now: mode halt (the default) stops all of them, reduce lets through only deals that reduce a position and safe_in_reduce commands; never refused for its form (a malformed field is recorded as such). {"source": "operator", "actor": "alice", "reason": "…", "mode": "reduce"}',
  releaseKillSwitch:
    'Approve releasing the kill switch (approver roles only, after the cooldown), or with "mode": "reduce" loosening a halt to reduce mode. {"actor": "alice", "role": "risk_officer", "reason": "…", "token": "wat1… (when signed approvals are on)"}',
  declineKillSwitchRelease:
    'Decline releasing the kill switch; discards approvals so far. {"actor": "alice", "role": "manager", "reason": "…"}',
  setApplyMode:
    'Set apply mode dry_run | testnet | live; towards live applies an approved change request. {"mode": "dry_run", "actor": "alice", "reason": "…", "changeRequestId": "cr-… (towards live)"}',
  restrictEngine:
    'Throttle or pause one engine. {"engine": "WHOLESALE", "restriction": "pause", "source": "operator", "actor": "alice", "reason": "…"}',
  refreshCapitalBand: 'Re-measure capital usage into the band. {"actor": "risk-guard"}',
  clearEngineRestriction:
    'Lift a throttle or pause, applying an approved change request; the last one lifted restores the engine policy as it was. {"restrictionId": "42", "actor": "alice", "reason": "…", "changeRequestId": "cr-…"} or {"engine": "WHOLESALE", "restriction": "throttle", "actor": "alice", "reason": "…", "changeRequestId": "cr-…"}',
};

/** Reads one signal's payload: too large, malformed or valid; never throws. */
function classify(kind: ControlPlaneChangeKind, payload: unknown): Queued {
  const oversized = oversizedProblem(payload);
  const parsed = oversized === null ? controlPlaneChangeSchemas[kind].safeParse(payload) : undefined;
  if (parsed?.success) return { ok: true, change: { kind, ...parsed.data } as ControlPlaneChange };
  const problem = storableText(oversized ?? (parsed ? describeIssues(parsed.error) : 'payload: refused'), 2000);
  return {
    ok: false,
    signal: kind,
    payload: storablePayload(payload ?? null),
    problem,
    ...(kind === 'engageKillSwitch' ? { engage: coerceEngage(payload) } : {}),
  };
}

const isEngagePayload = (payload: unknown): boolean =>
  typeof payload === 'object' && payload !== null && (payload as { kind?: unknown }).kind === 'engageKillSwitch';

/** The update's validator: synchronous, and never refuses an engage. */
function validateChange(payload: unknown, queued: number): void {
  if (isEngagePayload(payload)) return;
  const oversized = oversizedProblem(payload);
  if (oversized !== null) throw new Error(oversized);
  const parsed = ChangeControlPlaneInputSchema.safeParse(payload);
  if (!parsed.success) throw new Error(storableText(describeIssues(parsed.error), 2000));
  if (queued >= MAX_CONTROL_PLANE_QUEUE) {
    throw new Error(
      `queue: ${queued} changes waiting, the most the control plane holds; try again shortly (an engage is always accepted)`,
    );
  }
}

function classifyChange(payload: unknown): Queued {
  const oversized = oversizedProblem(payload);
  const parsed = oversized === null ? ChangeControlPlaneInputSchema.safeParse(payload) : undefined;
  if (parsed?.success) {
    const { kind, ...fields } = parsed.data;
    return { ok: true, change: { kind, ...fields } as ControlPlaneChange };
  }
  return {
    ok: false,
    signal: 'changeControlPlane',
    payload: storablePayload(payload ?? null),
    problem: storableText(oversized ?? (parsed ? describeIssues(parsed.error) : 'payload: refused'), 2000),
    engage: coerceEngage(payload),
  };
}

const failureText = (error: ActivityFailure): string => storableText(error.cause?.message ?? error.message, 1000);

/**
 * The one entity that serialises every change to go-live, kill switch, apply
 * mode and engine restrictions. Each change is persisted (state row + audit
 * event) before the `state` query shows it; a bad payload is audited and
 * dropped; an engage always takes effect, ahead of anything queued.
 */
export async function controlPlane(rawInput: ControlPlaneInput = {}): Promise<void> {
  const input = parseInput(ControlPlaneInputSchema, rawInput ?? {}, 'controlPlane input');
  const { workflowId } = workflowInfo();
  if (workflowId !== CONTROL_PLANE_WORKFLOW_ID && patched(CONTROL_PLANE_ONE_WRITER))
    throw ApplicationFailure.nonRetryable(
      `workflowId: the control plane runs only as ${CONTROL_PLANE_WORKFLOW_ID}, one writer of its state; ${workflowId} changes nothing`,
      ErrorType.InvalidInput,
    );
  // Changes by update wait in the mailbox for their outcome, handed back to the caller.
  const mailbox = new Mailbox<Queued, ChangeOutcome>();
  // What the last run handed over goes first; a change is judged again, as if it had just arrived.
  for (const item of input.queued)
    mailbox.post(item.ok ? classifyChange(item.change) : { ...item, payload: storablePayload(item.payload ?? null) });
  const handsOver = input.queued.length > 0 || patched(CONTROL_PLANE_HANDS_OVER);
  const visibility = new Visibility().decide();
  /** The state in the Web UI: trading state as the stage, the release's approver roles once a release is voted on. */
  const showState = (shown: ControlPlaneState) => {
    const trading = tradingStateOf(shown);
    // States from before release votes carry no releaseApprovals.
    const votes = shown.releaseApprovals?.length ?? 0;
    const voting = shown.killSwitchEngaged && votes > 0;
    visibility.show(
      { stage: trading, awaitingApproval: voting ? RELEASE_APPROVER_ROLES : null },
      [
        `Go-live ${shown.goLiveEnabled ? 'ON' : 'off'}, apply mode ${shown.applyMode}`,
        shown.killSwitchEngaged
          ? `kill switch engaged (${trading}) by ${shown.killSwitchEngagedBy ?? shown.killSwitchSource ?? 'unknown'}${shown.reason ? `: ${shown.reason}` : ''}`
          : 'kill switch released',
        ...(voting ? [`release voted by ${votes}; waits for more approvals`] : []),
      ].join(' · '),
    );
  };
  /** Signals taken out of the mailbox to hand to the next run. */
  const handingOver: Queued[] = [];
  let handled = 0;
  let rejected = input.rejectedSignals;
  let dropped = input.droppedChanges;
  let state: ControlPlaneState | undefined;
  const overflow = { dropped: 0, kinds: {} as Record<string, number>, samples: [] as unknown[] };

  const signals = {
    setGoLive: setGoLiveSignal,
    engageKillSwitch: engageKillSwitchSignal,
    releaseKillSwitch: releaseKillSwitchSignal,
    declineKillSwitchRelease: declineKillSwitchReleaseSignal,
    setApplyMode: setApplyModeSignal,
    restrictEngine: restrictEngineSignal,
    refreshCapitalBand: refreshCapitalBandSignal,
    clearEngineRestriction: clearEngineRestrictionSignal,
  } as const;
  for (const kind of Object.keys(signals) as ControlPlaneChangeKind[]) {
    // Never throws: a throwing signal handler would fail the workflow.
    setHandler(
      signals[kind],
      (payload: unknown) => {
        const item = classify(kind, payload);
        if (!item.ok) log.warn('control-plane signal rejected', { signal: kind, problem: item.problem });
        if (mailbox.size + handingOver.length >= MAX_CONTROL_PLANE_QUEUE && !isEngage(item)) {
          // Full: refused, counted and audited in one event; an engage is never refused.
          overflow.dropped += 1;
          overflow.kinds[kind] = (overflow.kinds[kind] ?? 0) + 1;
          if (overflow.samples.length < 5) overflow.samples.push(storablePayload(payload ?? null, 200));
          return;
        }
        mailbox.post(item);
      },
      { description: descriptions[kind] },
    );
  }
  setHandler(
    changeControlPlaneUpdate,
    async (payload): Promise<ChangeResult> => {
      const outcome = await mailbox.ask(classifyChange(payload));
      return { outcome, state: state! };
    },
    {
      // Refused before it reaches history: the caller hears which field is wrong.
      validator: (payload) => validateChange(payload, mailbox.size),
      description:
        'Any control-plane change, answered with its outcome (applied, pending or refused with the reason) once persisted. {"kind": "engageKillSwitch", "source": "operator", "actor": "alice", "reason": "…"}',
    },
  );
  setHandler(
    controlPlaneStateQuery,
    () => {
      if (state === undefined) throw new Error('control plane is still loading its state');
      return {
        ...state,
        tradingState: tradingStateOf(state),
        pendingChanges: mailbox.size,
        rejectedSignals: rejected,
        droppedChanges: dropped,
      };
    },
    {
      description:
        'Go-live, kill switch (and its mode: trading state active, reducing or halted) and apply mode as persisted, with the number of changes still queued.',
    },
  );

  const persist = async (changeId: string, change: ControlPlaneChange, malformed?: string) => {
    // Histories from before change outcomes carry a bare state.
    const { outcome, ...persisted } = await persistControlPlaneChange({
      changeId,
      change,
      ...(malformed === undefined ? {} : { malformed }),
    });
    state = persisted;
    showState(persisted);
    return outcome ?? { status: 'applied' as const };
  };

  const handle = async (item: Queued, id: string): Promise<ChangeOutcome> => {
    if (item.ok) return persist(id, item.change);
    if (item.engage && patched(UNJAMMABLE_CONTROL_PLANE)) {
      return persist(id, { kind: 'engageKillSwitch', ...item.engage }, item.problem);
    }
    await auditRejectedSignal({ rejectionId: id, signal: item.signal, payload: item.payload, problem: item.problem });
    rejected += 1;
    return { status: 'refused', reason: item.problem };
  };

  /** A change the activities gave up on (never an outage): audited, answered, dropped. */
  const drop = async (item: Queued, id: string, awaited: boolean, error: ActivityFailure): Promise<ChangeOutcome> => {
    const problem = failureText(error);
    log.error('control-plane change dropped', { changeId: id, problem });
    dropped += 1;
    if (patched(UNJAMMABLE_CONTROL_PLANE)) {
      await auditDroppedChange({
        changeId: id,
        change: storablePayload(item.ok ? item.change : item.payload),
        problem,
        awaited,
      }).catch((auditError: unknown) => {
        if (!(auditError instanceof ActivityFailure)) throw auditError;
        log.error('control-plane drop not audited', { changeId: id, problem: failureText(auditError) });
      });
    }
    return { status: 'refused', reason: `not persisted, dropped: ${problem}` };
  };

  const auditOverflow = async () => {
    const report = { overflowId: uuid4(), ...overflow, kinds: { ...overflow.kinds } };
    rejected += overflow.dropped;
    Object.assign(overflow, { dropped: 0, kinds: {}, samples: [] });
    await auditQueueOverflow(report).catch((auditError: unknown) => {
      if (!(auditError instanceof ActivityFailure)) throw auditError;
      log.error('control-plane queue overflow not audited', { problem: failureText(auditError) });
    });
  };

  const handleNext = async (item: Queued, id: string, awaited: boolean) => {
    handled += 1;
    try {
      return await handle(item, id);
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      return drop(item, id, awaited, error);
    }
  };
  // Engages first: nothing queued ahead of the kill switch delays it.
  const engagesFirst = (items: readonly Queued[]) => {
    const engage = items.findIndex(isEngage);
    return engage > 0 && patched(UNJAMMABLE_CONTROL_PLANE) ? engage : 0;
  };
  const due = () => handled >= input.signalsPerRun || workflowInfo().continueAsNewSuggested;

  /**
   * Answers every update and engage queued (they are not handed over: a caller waits on one, the other
   * must not wait), takes the other signals out to hand over, then continues as new with them.
   */
  const handOver = async (): Promise<never> => {
    const answered = (items: readonly Queued[], awaited: readonly boolean[]) => {
      const engage = items.findIndex(isEngage);
      return engage >= 0 ? engage : awaited.indexOf(true);
    };
    const unanswered = () => mailbox.has((item, awaited) => awaited || isEngage(item));
    for (;;) {
      handingOver.push(...mailbox.take((item) => !isEngage(item)));
      if (mailbox.size > 0) {
        await mailbox.drain(handleNext, answered, () => !unanswered());
        continue;
      }
      if (overflow.dropped > 0) {
        await auditOverflow();
        continue;
      }
      await condition(() => allHandlersFinished() || mailbox.size > 0 || overflow.dropped > 0);
      if (allHandlersFinished() && mailbox.size === 0 && overflow.dropped === 0) break;
    }
    return continueAsNew<typeof controlPlane>({
      handledSignals: input.handledSignals + handled,
      rejectedSignals: rejected,
      ...(dropped > 0 ? { droppedChanges: dropped } : {}),
      signalsPerRun: input.signalsPerRun,
      // Only when there is one: a worker from before the field refuses unknown input.
      ...(handingOver.length > 0
        ? {
            queued: handingOver.map((item) =>
              item.ok
                ? { ok: true as const, change: item.change }
                : {
                    ok: false as const,
                    signal: item.signal,
                    // Compacted: a refused payload only needs to reach the audit, bounded.
                    payload: storableText(JSON.stringify(item.payload) ?? 'null', 1000),
                    problem: item.problem,
                  },
            ),
          }
        : {}),
    });
  };

  state = await loadControlPlaneState();
  showState(state);

  for (;;) {
    await condition(
      () =>
        mailbox.size > 0 ||
        overflow.dropped > 0 ||
        handled >= input.signalsPerRun ||
        workflowInfo().continueAsNewSuggested,
    );
    // Each item leaves the mailbox only once persisted, so the query's pending count stays true.
    await mailbox.drain(handleNext, engagesFirst, handsOver ? due : undefined);
    if (overflow.dropped > 0 && patched(UNJAMMABLE_CONTROL_PLANE)) await auditOverflow();
    if (due()) {
      if (handsOver) await handOver();
      await condition(allHandlersFinished);
      if (mailbox.size === 0 && overflow.dropped === 0) {
        await continueAsNew<typeof controlPlane>({
          handledSignals: input.handledSignals + handled,
          rejectedSignals: rejected,
          // Only when there is one: a worker from before the field refuses unknown input.
          ...(dropped > 0 ? { droppedChanges: dropped } : {}),
          signalsPerRun: input.signalsPerRun,
        });
      }
    }
  }
}
