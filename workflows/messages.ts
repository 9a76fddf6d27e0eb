// Message definitions, declared once: workflows set handlers on them and the
// client and CLI send them. Names and JSON fields are a public interface.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CommandDecision, CommandView } from '../src/domain/autonomy/commands';
import type { AcknowledgeReview, Attest, Hold, Note, ReleaseHold, WeekStatus } from '../src/domain/autonomy/week';
import type {
  ApproveChangePayload,
  CancelChangePayload,
  ChangeRequestView,
  EditChangePayload,
  RejectChangePayload,
} from '../src/domain/change-requests/request';
import type {
  ApprovePayload,
  BreakerTrippedPayload,
  ProposalView,
  RejectPayload,
} from '../src/domain/autonomy/proposals';
import type {
  ChangeControlPlaneInput,
  ChangeResult,
  ClearEngineRestrictionInput,
  ControlPlaneView,
  DeclineKillSwitchReleaseInput,
  EngageKillSwitchInput,
  RefreshCapitalBandInput,
  ReleaseKillSwitchInput,
  RestrictEngineInput,
  SetApplyModeInput,
  SetGoLiveInput,
} from '../src/domain/control-plane/types';
import type {
  DealAdmissionAnswer,
  DealProgress,
  DealResult,
  DealTerms,
  ReconcileDealInput,
} from '../src/domain/deals/types';
import type { NotificationDispatchView } from '../src/domain/notifications/dispatch';
import type { AbandonPayload, CompleteStepPayload, PlaybookProgress, StepResult } from '../src/domain/go-live/playbook';
import type { EndSessionPayload, OperatorSessionView } from '../src/domain/go-live/sessions';
import type { OrderApproval, PromotionView } from '../src/domain/strategy/messages';

// Control-plane changes are signals, not updates: watchdogs and operators
// fire them from anywhere (including `temporal workflow signal`) and must not
// block on the database; the `state` query shows a change once persisted.
export const setGoLiveSignal = defineSignal<[SetGoLiveInput]>('setGoLive');
export const engageKillSwitchSignal = defineSignal<[EngageKillSwitchInput]>('engageKillSwitch');
export const releaseKillSwitchSignal = defineSignal<[ReleaseKillSwitchInput]>('releaseKillSwitch');
export const declineKillSwitchReleaseSignal = defineSignal<[DeclineKillSwitchReleaseInput]>('declineKillSwitchRelease');
export const setApplyModeSignal = defineSignal<[SetApplyModeInput]>('setApplyMode');
export const restrictEngineSignal = defineSignal<[RestrictEngineInput]>('restrictEngine');
export const refreshCapitalBandSignal = defineSignal<[RefreshCapitalBandInput]>('refreshCapitalBand');
export const clearEngineRestrictionSignal = defineSignal<[ClearEngineRestrictionInput]>('clearEngineRestriction');
/** The same changes as an update, for callers that must hear the outcome (the API answers 409 on a refusal). */
export const changeControlPlaneUpdate = defineUpdate<ChangeResult, [ChangeControlPlaneInput]>('changeControlPlane');
export const controlPlaneStateQuery = defineQuery<ControlPlaneView>('state');

export const dealProgressQuery = defineQuery<DealProgress>('progress');
/**
 * An operator's word on a deal that may have executed (`needs_reconciliation`):
 * an update, so the caller hears at once whether it was taken and gets the
 * reconciled result; plain JSON, so `temporal workflow update execute` works.
 */
export const reconcileDealUpdate = defineUpdate<DealResult, [ReconcileDealInput]>('reconcileDeal');
/**
 * Answers once the deal's admission is decided (update-with-start: the producer hears it in one round
 * trip while execution goes on). Given the caller's terms, a deal running with other terms refuses it.
 */
export const dealAdmissionUpdate = defineUpdate<DealAdmissionAnswer, [DealTerms?]>('admission');

// Autonomy (seed 002). Approvals are plain JSON so approvers can act from the
// Temporal CLI or Web UI; proposals also take them as updates, whose
// validators hand the reason for a refusal back to the caller.
export const approveCommandSignal = defineSignal<[CommandDecision]>('approveCommand');
export const rejectCommandSignal = defineSignal<[CommandDecision]>('rejectCommand');
export const commandStatusQuery = defineQuery<CommandView>('status');

export const approveSignal = defineSignal<[ApprovePayload]>('approve');
export const rejectSignal = defineSignal<[RejectPayload]>('reject');
export const approveUpdate = defineUpdate<ProposalView, [ApprovePayload]>('approveProposal');
export const rejectUpdate = defineUpdate<ProposalView, [RejectPayload]>('rejectProposal');
/** Sent by the circuit breaker when a revert_to_l3 trips during the validation period. */
export const breakerTrippedSignal = defineSignal<[BreakerTrippedPayload]>('breakerTripped');
export const proposalStatusQuery = defineQuery<ProposalView>('status');

// Strategy gate (seed 001).
export const approveOrderSignal = defineSignal<[OrderApproval]>('approveOrder');
export const approvePromotionSignal = defineSignal<[OrderApproval]>('approvePromotion');
// A rejection says why in `comment`, as an approval does.
export const rejectPromotionSignal = defineSignal<[OrderApproval]>('rejectPromotion');
export const promotionStatusQuery = defineQuery<PromotionView>('status');

// Go-live playbook (seed 004 PACK H). A step is an update so whoever does it
// hears at once whether it counted, or why not; the same payload is also a
// signal for the Web UI's Send a Signal, whose refusals are audited and dropped.
export const completePlaybookStepUpdate = defineUpdate<StepResult, [CompleteStepPayload]>('completePlaybookStep');
export const completePlaybookStepSignal = defineSignal<[CompleteStepPayload]>('completePlaybookStep');
export const abandonPlaybookUpdate = defineUpdate<PlaybookProgress, [AbandonPayload]>('abandonPlaybook');
export const abandonPlaybookSignal = defineSignal<[AbandonPayload]>('abandonPlaybook');
export const playbookProgressQuery = defineQuery<PlaybookProgress>('progress');

// Operator sessions (seed 004 PACK I). Ending is an update: the caller gets
// the session back with its end snapshot once it is stored.
export const endSessionUpdate = defineUpdate<OperatorSessionView, [EndSessionPayload]>('endSession');
export const sessionQuery = defineQuery<OperatorSessionView>('session');

// Notification dispatch (seed 004). It polls on its own; the signal only
// saves the wait, so it carries no payload and can never be wrong.
export const notificationsPendingSignal = defineSignal('notificationsPending');
export const notificationDispatchQuery = defineQuery<NotificationDispatchView>('dispatch');

// Change requests (issue 14). Decisions are updates, so whoever decides hears
// at once whether it counted (the validator names the field); approve and
// reject are also plain-JSON signals for the Temporal CLI and Web UI, whose
// refusals are audited and dropped. `opened` answers once the request is
// recorded (and, when nothing loosens, applied).
export const approveChangeUpdate = defineUpdate<ChangeRequestView, [ApproveChangePayload]>('approve');
export const rejectChangeUpdate = defineUpdate<ChangeRequestView, [RejectChangePayload]>('reject');
export const editChangeUpdate = defineUpdate<ChangeRequestView, [EditChangePayload]>('edit');
export const cancelChangeUpdate = defineUpdate<ChangeRequestView, [CancelChangePayload]>('cancel');
export const approveChangeSignal = defineSignal<[ApproveChangePayload]>('approveChange');
export const rejectChangeSignal = defineSignal<[RejectChangePayload]>('rejectChange');
export const changeRequestOpenedUpdate = defineUpdate<ChangeRequestView>('opened');
export const changeRequestStatusQuery = defineQuery<ChangeRequestView>('status');

// The week's governance (issue 19): updates with validators (plain JSON, for the Temporal CLI and UI), one query.
export const acknowledgeReviewUpdate = defineUpdate<WeekStatus, [AcknowledgeReview]>('acknowledgeReview');
export const holdUpdate = defineUpdate<WeekStatus, [Hold]>('hold');
export const releaseHoldUpdate = defineUpdate<WeekStatus, [ReleaseHold]>('release');
export const noteUpdate = defineUpdate<WeekStatus, [Note]>('note');
export const attestUpdate = defineUpdate<WeekStatus, [Attest]>('attest');
export const nextWeekStartedSignal = defineSignal<[{ week: string }]>('nextWeekStarted');
export const weekStatusQuery = defineQuery<WeekStatus>('status');
