import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlPlaneActivities } from '../src/domain/control-plane/activities';
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
import { Mailbox } from './lib/mailbox';
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

const { loadControlPlaneState, persistControlPlaneChange, auditRejectedSignal } =
  proxyActivities<ControlPlaneActivities>({
    startToCloseTimeout: '15 seconds',
    // A database outage must delay a change, never drop it.
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });

/** A change to persist, or a signal's bad payload to audit; both in arrival order, one at a time. */
type Queued =
  | { ok: true; change: ControlPlaneChange }
  | { ok: false; signal: ControlPlaneChangeKind; payload: unknown; problem: string };

const descriptions: Record<ControlPlaneChangeKind, string> = {
  setGoLive: 'Turn production execution on or off. {"enabled": true, "actor": "alice", "reason": "…"}',
  engageKillSwitch: 'Stop all PROD_EXEC actions now. {"source": "operator", "actor": "alice", "reason": "…"}',
  releaseKillSwitch:
    'Approve releasing the kill switch (approver roles only, after the cooldown). {"actor": "alice", "role": "risk_officer", "reason": "…", "token": "wat1… (when signed approvals are on)"}',
  declineKillSwitchRelease:
    'Decline releasing the kill switch; discards approvals so far. {"actor": "alice", "role": "manager", "reason": "…"}',
  setApplyMode: 'Set apply mode dry_run | testnet | live. {"mode": "dry_run", "actor": "alice", "reason": "…"}',
  restrictEngine:
    'Throttle or pause one engine. {"engine": "WHOLESALE", "restriction": "pause", "source": "operator", "actor": "alice", "reason": "…"}',
  refreshCapitalBand: 'Re-measure capital usage into the band. {"actor": "risk-guard"}',
};

/**
 * The one entity that serialises every change to go-live, kill switch and
 * apply mode. Each change is persisted (state row + audit event) before the
 * `state` query shows it; a bad payload is audited and dropped.
 */
export async function controlPlane(rawInput: ControlPlaneInput = {}): Promise<void> {
  const input = parseInput(ControlPlaneInputSchema, rawInput ?? {}, 'controlPlane input');
  // Changes by update wait in the mailbox for their outcome, handed back to the caller.
  const mailbox = new Mailbox<Queued, ChangeOutcome | null>();
  let handled = 0;
  let rejected = input.rejectedSignals;
  let state: ControlPlaneState | undefined;

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
          mailbox.post({ ok: true, change: { kind, ...parsed.data } as ControlPlaneChange });
        } else {
          const problem = describeIssues(parsed.error);
          log.warn('control-plane signal rejected', { signal: kind, problem });
          mailbox.post({ ok: false, signal: kind, payload: payload ?? null, problem });
        }
      },
      { description: descriptions[kind] },
    );
  }
  setHandler(
    changeControlPlaneUpdate,
    async (payload): Promise<ChangeResult> => {
      const { kind, ...fields } = ChangeControlPlaneInputSchema.parse(payload);
      const outcome = await mailbox.ask({ ok: true, change: { kind, ...fields } as ControlPlaneChange });
      return { outcome: outcome!, state: state! };
    },
    {
      // Refused before it reaches history: the caller hears which field is wrong.
      validator: (payload) => {
        const parsed = ChangeControlPlaneInputSchema.safeParse(payload);
        if (!parsed.success) throw new Error(describeIssues(parsed.error));
      },
      description:
        'Any control-plane change, answered with its outcome (applied, pending or refused with the reason) once persisted. {"kind": "engageKillSwitch", "source": "operator", "actor": "alice", "reason": "…"}',
    },
  );
  setHandler(
    controlPlaneStateQuery,
    () => {
      if (state === undefined) throw new Error('control plane is still loading its state');
      return { ...state, pendingChanges: mailbox.size, rejectedSignals: rejected };
    },
    { description: 'Go-live, kill switch and apply mode as persisted, with the number of changes still queued.' },
  );

  state = await loadControlPlaneState();

  for (;;) {
    await condition(() => mailbox.size > 0 || handled >= input.signalsPerRun || workflowInfo().continueAsNewSuggested);
    // Each item leaves the mailbox only once persisted, so the query's pending count stays true.
    await mailbox.drain(async (item, id) => {
      let outcome: ChangeOutcome | null = null;
      if (item.ok) {
        // Histories from before change outcomes carry a bare state.
        const { outcome: persistedOutcome, ...persisted } = await persistControlPlaneChange({
          changeId: id,
          change: item.change,
        });
        state = persisted;
        outcome = persistedOutcome ?? { status: 'applied' };
      } else {
        await auditRejectedSignal({
          rejectionId: id,
          signal: item.signal,
          payload: item.payload,
          problem: item.problem,
        });
        rejected += 1;
      }
      handled += 1;
      return outcome;
    });
    if (handled >= input.signalsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (mailbox.size === 0) {
        await continueAsNew<typeof controlPlane>({
          handledSignals: input.handledSignals + handled,
          rejectedSignals: rejected,
          signalsPerRun: input.signalsPerRun,
        });
      }
    }
  }
}
