import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlPlaneActivities } from '../activities/control-plane';
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
} from '../src/domain/control-plane/types';
import { parseInput } from '../src/domain/shared/errors';
import { describeIssues } from '../src/domain/shared/validation';
import {
  changeControlPlaneUpdate,
  controlPlaneStateQuery,
  declineKillSwitchReleaseSignal,
  engageKillSwitchSignal,
  refreshCapitalBandSignal,
  releaseKillSwitchSignal,
  restrictEngineSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from './messages';

const { loadControlPlaneState, persistControlPlaneChange, auditRejectedSignal } = proxyActivities<ControlPlaneActivities>({
  startToCloseTimeout: '15 seconds',
  // A database outage must delay a change, never drop it.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

type Queued =
  | { ok: true; id: string; change: ControlPlaneChange; awaited?: boolean }
  | { ok: false; id: string; signal: ControlPlaneChangeKind; payload: unknown; problem: string };

const descriptions: Record<ControlPlaneChangeKind, string> = {
  setGoLive: 'Turn production execution on or off. {"enabled": true, "actor": "alice", "reason": "…"}',
  engageKillSwitch: 'Stop all PROD_EXEC actions now. {"source": "operator", "actor": "alice", "reason": "…"}',
  releaseKillSwitch:
    'Approve releasing the kill switch (approver roles only, after the cooldown). {"actor": "alice", "role": "risk_officer", "reason": "…", "token": "wat1… (when signed approvals are on)"}',
  declineKillSwitchRelease: 'Decline releasing the kill switch; discards approvals so far. {"actor": "alice", "role": "manager", "reason": "…"}',
  setApplyMode: 'Set apply mode dry_run | testnet | live. {"mode": "dry_run", "actor": "alice", "reason": "…"}',
  restrictEngine: 'Throttle or pause one engine. {"engine": "WHOLESALE", "restriction": "pause", "source": "operator", "actor": "alice", "reason": "…"}',
  refreshCapitalBand: 'Re-measure capital usage into the band. {"actor": "risk-guard"}',
};

/**
 * The one entity that serialises every change to go-live, kill switch and
 * apply mode. Each change is persisted (state row + audit event) before the
 * `state` query shows it; a bad payload is audited and dropped.
 */
export async function controlPlane(rawInput: ControlPlaneInput = {}): Promise<void> {
  const input = parseInput(ControlPlaneInputSchema, rawInput ?? {}, 'controlPlane input');
  const queue: Queued[] = [];
  let handled = 0;
  let rejected = input.rejectedSignals;
  let state: ControlPlaneState | undefined;

  // Outcomes of changes that came by update, handed back to the waiting caller.
  const outcomes = new Map<string, ChangeOutcome>();

  const signals = {
    setGoLive: setGoLiveSignal,
    engageKillSwitch: engageKillSwitchSignal,
    releaseKillSwitch: releaseKillSwitchSignal,
    declineKillSwitchRelease: declineKillSwitchReleaseSignal,
    setApplyMode: setApplyModeSignal,
    restrictEngine: restrictEngineSignal,
    refreshCapitalBand: refreshCapitalBandSignal,
  } as const;
  for (const kind of Object.keys(signals) as ControlPlaneChangeKind[]) {
    // Never throws: a throwing signal handler would fail the workflow.
    setHandler(
      signals[kind],
      (payload: unknown) => {
        const parsed = controlPlaneChangeSchemas[kind].safeParse(payload);
        if (parsed.success) {
          queue.push({ ok: true, id: uuid4(), change: { kind, ...parsed.data } as ControlPlaneChange });
        } else {
          const problem = describeIssues(parsed.error);
          log.warn('control-plane signal rejected', { signal: kind, problem });
          queue.push({ ok: false, id: uuid4(), signal: kind, payload: payload ?? null, problem });
        }
      },
      { description: descriptions[kind] },
    );
  }
  setHandler(
    changeControlPlaneUpdate,
    async (payload): Promise<ChangeResult> => {
      const { kind, ...fields } = ChangeControlPlaneInputSchema.parse(payload);
      const id = uuid4();
      queue.push({ ok: true, id, change: { kind, ...fields } as ControlPlaneChange, awaited: true });
      await condition(() => outcomes.has(id));
      const outcome = outcomes.get(id)!;
      outcomes.delete(id);
      return { outcome, state: state! };
    },
    {
      // Refused before it reaches history: the caller hears which field is wrong.
      validator: (payload) => {
        const parsed = ChangeControlPlaneInputSchema.safeParse(payload);
        if (!parsed.success) throw new Error(describeIssues(parsed.error));
      },
      description: 'Any control-plane change, answered with its outcome (applied, pending or refused with the reason) once persisted. {"kind": "engageKillSwitch", "source": "operator", "actor": "alice", "reason": "…"}',
    },
  );
  setHandler(
    controlPlaneStateQuery,
    () => {
      if (state === undefined) throw new Error('control plane is still loading its state');
      return { ...state, pendingChanges: queue.length, rejectedSignals: rejected };
    },
    { description: 'Go-live, kill switch and apply mode as persisted, with the number of changes still queued.' },
  );

  state = await loadControlPlaneState();

  for (;;) {
    await condition(() => queue.length > 0 || handled >= input.signalsPerRun || workflowInfo().continueAsNewSuggested);
    while (queue.length > 0) {
      const item = queue[0]!;
      if (item.ok) {
        // Histories from before change outcomes carry a bare state.
        const { outcome, ...persisted } = await persistControlPlaneChange({ changeId: item.id, change: item.change });
        state = persisted;
        if (item.awaited) outcomes.set(item.id, outcome ?? { status: 'applied' });
      } else {
        await auditRejectedSignal({ rejectionId: item.id, signal: item.signal, payload: item.payload, problem: item.problem });
        rejected += 1;
      }
      // Dequeued only once persisted, so the query's pending count stays true.
      queue.shift();
      handled += 1;
    }
    if (handled >= input.signalsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (queue.length === 0) {
        await continueAsNew<typeof controlPlane>({
          handledSignals: input.handledSignals + handled,
          rejectedSignals: rejected,
          signalsPerRun: input.signalsPerRun,
        });
      }
    }
  }
}
