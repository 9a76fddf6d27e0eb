import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { dealExecution } from '../../workflows/deal-execution';
import type { goLivePlaybook } from '../../workflows/go-live-playbook';
import { DEFAULT_TASK_QUEUE, GO_LIVE_PLAYBOOK_WORKFLOW_ID } from '../../workflows/names';
import type { ControlPlanePort } from '../domain/control-plane/port';
import type {
  ChangeControlPlaneInput,
  ChangeResult,
  ClearEngineRestrictionInput,
  ControlPlaneView,
  EngageKillSwitchInput,
  RefreshCapitalBandInput,
  ReleaseKillSwitchInput,
  RestrictEngineInput,
  SetApplyModeInput,
  SetGoLiveInput,
} from '../domain/control-plane/types';
import type {
  ApproveChangePayload,
  CancelChangePayload,
  ChangeRequestView,
  EditChangePayload,
  RejectChangePayload,
} from '../domain/change-requests/request';
import type {
  DealAdmissionAnswer,
  DealInput,
  DealProgress,
  DealResult,
  ReconcileDealInput,
} from '../domain/deals/types';
import type {
  AbandonPayload,
  CompleteStepPayload,
  PlaybookInput,
  PlaybookProgress,
  StepResult,
} from '../domain/go-live/playbook';
import type { OperatorSessionView } from '../domain/go-live/sessions';
import * as changeRequests from './change-requests';
import * as controlPlane from './control-plane';
import * as deals from './deals';
import * as goLive from './go-live';
import type { Target } from './target';

export { AlreadyRunningError, DealAlreadyStartedError, InvalidRequestError } from './errors';
export { ChangeRequestRefusedError, newChangeRequestId, type PolicyChangeSubmission } from './change-requests';
export type { Target } from './target';

/**
 * The producer SDK: the typed way for producers and operators to reach
 * Warden's workflows. Temporal only; what a trusted producer writes to
 * Warden's database directly is in `src/db/producer.repository.ts`. It
 * implements the ControlPlanePort the worker hands to activities.
 */
export class WardenClient implements Target, ControlPlanePort {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = DEFAULT_TASK_QUEUE,
  ) {}

  // Deals.

  /** Starts a governed deal; throws DealAlreadyStartedError for a dealId seen before. */
  startDeal(input: DealInput): Promise<WorkflowHandleWithFirstExecutionRunId<typeof dealExecution>> {
    return deals.startDeal(this, input);
  }

  /** Starts the deal (or joins the run already started for its id) and waits for its result. */
  executeDeal(input: DealInput): Promise<DealResult> {
    return deals.executeDeal(this, input);
  }

  /** Starts the deal and answers once its admission is decided (update-with-start), while it goes on. */
  admitDeal(input: DealInput): Promise<DealAdmissionAnswer> {
    return deals.admitDeal(this, input);
  }

  getDealResult(dealId: string): Promise<DealResult> {
    return deals.getDealResult(this, dealId);
  }

  dealProgress(dealId: string): Promise<DealProgress> {
    return deals.dealProgress(this, dealId);
  }

  /** Settles (executed) or releases (not executed) a deal waiting for reconciliation; audited with the actor. */
  reconcileDeal(dealId: string, input: ReconcileDealInput, workflowId?: string): Promise<DealResult> {
    return deals.reconcileDeal(this, dealId, input, workflowId);
  }

  // Control plane.

  /** Starts the control plane unless it already runs; safe to call from every process. */
  ensureControlPlane(): Promise<void> {
    return controlPlane.ensureControlPlane(this);
  }

  /** Starts the notification dispatcher unless it already runs; safe to call from every process. */
  ensureNotificationDispatch(): Promise<void> {
    return controlPlane.ensureNotificationDispatch(this);
  }

  // The signals below are validated first, so a producer hears about a bad
  // field at once, and are sent with signal-with-start.

  setGoLive(input: SetGoLiveInput): Promise<void> {
    return controlPlane.setGoLive(this, input);
  }

  engageKillSwitch(input: EngageKillSwitchInput): Promise<void> {
    return controlPlane.engageKillSwitch(this, input);
  }

  releaseKillSwitch(input: ReleaseKillSwitchInput): Promise<void> {
    return controlPlane.releaseKillSwitch(this, input);
  }

  setApplyMode(input: SetApplyModeInput): Promise<void> {
    return controlPlane.setApplyMode(this, input);
  }

  /** Throttles or pauses one engine (the tripwire actions); the control plane serialises and audits it. */
  restrictEngine(input: RestrictEngineInput): Promise<void> {
    return controlPlane.restrictEngine(this, input);
  }

  /** Lifts a throttle or pause; the last throttle lifted restores the engine policy as it was before the first. */
  clearEngineRestriction(input: ClearEngineRestrictionInput): Promise<void> {
    return controlPlane.clearEngineRestriction(this, input);
  }

  /** Asks the control plane to re-measure capital usage into its band. */
  refreshCapitalBand(input: RefreshCapitalBandInput): Promise<void> {
    return controlPlane.refreshCapitalBand(this, input);
  }

  /** Any change, answered once persisted: applied, pending (more approvals) or refused with the reason. */
  changeControlPlane(input: ChangeControlPlaneInput): Promise<ChangeResult> {
    return controlPlane.changeControlPlane(this, input);
  }

  controlPlaneState(): Promise<ControlPlaneView> {
    return controlPlane.controlPlaneState(this);
  }

  /** Waits until the control plane has persisted every queued change and reached `minVersion`. */
  waitForControlPlane(minVersion: number, timeoutMs = 15_000): Promise<ControlPlaneView> {
    return controlPlane.waitForControlPlane(this, minVersion, timeoutMs);
  }

  // Change requests (issue 14): every change to governed state; loosening ones wait for others' approvals.

  /** Opens a change request; answers once it is recorded (a tightening-only one has applied by then). */
  submitPolicyChanges(input: changeRequests.PolicyChangeSubmission): Promise<ChangeRequestView> {
    return changeRequests.submitPolicyChanges(this, input);
  }

  approveChangeRequest(id: string, payload: ApproveChangePayload): Promise<ChangeRequestView> {
    return changeRequests.approveChangeRequest(this, id, payload);
  }

  rejectChangeRequest(id: string, payload: RejectChangePayload): Promise<ChangeRequestView> {
    return changeRequests.rejectChangeRequest(this, id, payload);
  }

  /** The requester's new changes; approvals given so far are revoked. */
  editChangeRequest(id: string, payload: EditChangePayload): Promise<ChangeRequestView> {
    return changeRequests.editChangeRequest(this, id, payload);
  }

  cancelChangeRequest(id: string, payload: CancelChangePayload): Promise<ChangeRequestView> {
    return changeRequests.cancelChangeRequest(this, id, payload);
  }

  changeRequestStatus(id: string): Promise<ChangeRequestView> {
    return changeRequests.changeRequestStatus(this, id);
  }

  // Go-live playbook and operator sessions (seed 004 PACK H/I).

  /** Starts the nine-step go-live playbook; a second start while one runs under the same id is refused. */
  startGoLivePlaybook(
    input: PlaybookInput,
    playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof goLivePlaybook>> {
    return goLive.startGoLivePlaybook(this, input, playbookId);
  }

  /**
   * Does the next step; a refusal (band, health, order, approver) comes back as a result,
   * a malformed payload as WorkflowUpdateFailedError.
   */
  completePlaybookStep(
    payload: CompleteStepPayload,
    playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID,
  ): Promise<StepResult> {
    return goLive.completePlaybookStep(this, payload, playbookId);
  }

  abandonPlaybook(
    payload: AbandonPayload,
    playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID,
  ): Promise<PlaybookProgress> {
    return goLive.abandonPlaybook(this, payload, playbookId);
  }

  playbookProgress(playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID): Promise<PlaybookProgress> {
    return goLive.playbookProgress(this, playbookId);
  }

  /** Starts the operator's session and returns it once its start snapshot is stored. */
  startOperatorSession(input: { operator: string; notes?: string }, timeoutMs = 15_000): Promise<OperatorSessionView> {
    return goLive.startOperatorSession(this, input, timeoutMs);
  }

  /** Ends the operator's active session; answers with both snapshots once stored. */
  endOperatorSession(input: { operator: string; actor: string; notes?: string }): Promise<OperatorSessionView> {
    return goLive.endOperatorSession(this, input);
  }

  operatorSession(operator: string): Promise<OperatorSessionView> {
    return goLive.operatorSession(this, operator);
  }
}
