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
  type ControlPlaneChange,
  type ControlPlaneChangeKind,
  controlPlaneChangeSchemas,
  type ControlPlaneInput,
  ControlPlaneInputSchema,
  type ControlPlaneState,
} from '../src/control-plane/types';
import { parseInput } from '../src/errors';
import { describeIssues } from '../src/validation';
import {
  controlPlaneStateQuery,
  engageKillSwitchSignal,
  releaseKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from './messages';

const { loadControlPlaneState, persistControlPlaneChange, auditRejectedSignal } = proxyActivities<ControlPlaneActivities>({
  startToCloseTimeout: '15 seconds',
  // A database outage must delay a change, never drop it.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

type Queued =
  | { ok: true; id: string; change: ControlPlaneChange }
  | { ok: false; id: string; signal: ControlPlaneChangeKind; payload: unknown; problem: string };

const descriptions: Record<ControlPlaneChangeKind, string> = {
  setGoLive: 'Turn production execution on or off. {"enabled": true, "actor": "alice", "reason": "…"}',
  engageKillSwitch: 'Stop all PROD_EXEC actions now. {"source": "operator", "actor": "alice", "reason": "…"}',
  releaseKillSwitch: 'Release the kill switch. {"actor": "alice", "reason": "…"}',
  setApplyMode: 'Set apply mode dry_run | testnet | live. {"mode": "dry_run", "actor": "alice", "reason": "…"}',
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

  const signals = {
    setGoLive: setGoLiveSignal,
    engageKillSwitch: engageKillSwitchSignal,
    releaseKillSwitch: releaseKillSwitchSignal,
    setApplyMode: setApplyModeSignal,
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
        state = await persistControlPlaneChange({ changeId: item.id, change: item.change });
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
