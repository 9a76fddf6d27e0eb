import type { BREAKER_ACTIONS } from '../autonomy/breakers';
import type { CommandStatus } from '../autonomy/metrics';
import type { DealResult } from '../deals/types';

/**
 * Audit kinds: every event kind Warden appends to the audit log, grouped by
 * concept. Notification routing, metrics, the Monday review and recorded
 * histories match on these strings, so they never change; add, never rename.
 *
 * A kind that follows a domain value (a deal's status, a breaker's action) is
 * a group keyed by that value, so `AuditKind.deal[result.status]` is typed and
 * a new status without its kind fails the type-check.
 */

/** What a proposal's history records, one audit event each. */
export type ProposalEvent =
  | 'created'
  | 'approved'
  | 'rejected'
  | 'expired'
  | 'applied'
  | 'validated'
  | 'reverted'
  /** Approved, but the phase had moved on from the one the proposal started from: nothing applied. */
  | 'stale'
  /** Started for an id Warden holds no open proposal record for: nothing happens. */
  | 'refused';
/** What a change request's history records, one audit event each. */
export type ChangeRequestEvent =
  | 'opened'
  /** The requester replaced the changes: approvals given so far are revoked. */
  | 'edited'
  /** One approval counted; `approved` follows once every slot is filled. */
  | 'approval_counted'
  | 'approved'
  | 'rejected'
  | 'cancelled'
  | 'expired'
  | 'applied'
  /** Approved, but the state it was read against had moved on: nothing applied. */
  | 'stale'
  /** Not recorded: invalid, nothing to change, or a loosening without the requester's token. */
  | 'refused'
  /** A message (approve, reject, edit, cancel) refused with the reason. */
  | 'message_rejected'
  /** The message budget is spent: later messages are ignored. */
  | 'messages_ignored';
type RestrictionKind = 'throttle' | 'pause';
type BreakerAction = (typeof BREAKER_ACTIONS)[number];

/** One kind per value of `K`, spelt `<prefix>.<value><suffix>`. */
type KeyedKinds<Prefix extends string, K extends string, Suffix extends string = ''> = {
  readonly [V in K]: `${Prefix}.${V}${Suffix}`;
};

const deal = {
  executed: 'deal.executed',
  dry_run: 'deal.dry_run',
  shadow: 'deal.shadow',
  paper: 'deal.paper',
  denied: 'deal.denied',
  failed: 'deal.failed',
  needs_reconciliation: 'deal.needs_reconciliation',
} as const satisfies KeyedKinds<'deal', DealResult['status']>;

const restrictionApplied = {
  throttle: 'restriction.throttle_applied',
  pause: 'restriction.pause_applied',
} as const satisfies KeyedKinds<'restriction', RestrictionKind, '_applied'>;

const restrictionCleared = {
  throttle: 'restriction.throttle_cleared',
  pause: 'restriction.pause_cleared',
} as const satisfies KeyedKinds<'restriction', RestrictionKind, '_cleared'>;

const command = {
  succeeded: 'command.succeeded',
  failed: 'command.failed',
  rejected: 'command.rejected',
  rolled_back: 'command.rolled_back',
  denied: 'command.denied',
  dry_run: 'command.dry_run',
} as const satisfies KeyedKinds<'command', CommandStatus>;

const proposal = {
  created: 'proposal.created',
  approved: 'proposal.approved',
  rejected: 'proposal.rejected',
  expired: 'proposal.expired',
  applied: 'proposal.applied',
  validated: 'proposal.validated',
  reverted: 'proposal.reverted',
  stale: 'proposal.stale',
  refused: 'proposal.refused',
} as const satisfies KeyedKinds<'proposal', ProposalEvent>;

const changeRequest = {
  opened: 'change_request.opened',
  edited: 'change_request.edited',
  approval_counted: 'change_request.approval_counted',
  approved: 'change_request.approved',
  rejected: 'change_request.rejected',
  cancelled: 'change_request.cancelled',
  expired: 'change_request.expired',
  applied: 'change_request.applied',
  stale: 'change_request.stale',
  refused: 'change_request.refused',
  message_rejected: 'change_request.message_rejected',
  messages_ignored: 'change_request.messages_ignored',
} as const satisfies KeyedKinds<'change_request', ChangeRequestEvent>;

const breakerTripped = {
  revert_to_l3: 'breaker.revert_to_l3',
  pause_command_type: 'breaker.pause_command_type',
  alert_only: 'breaker.alert_only',
} as const satisfies KeyedKinds<'breaker', BreakerAction>;

const alert = {
  firing: 'alert.firing',
  resolved: 'alert.resolved',
} as const satisfies KeyedKinds<'alert', 'firing' | 'resolved'>;

export const AuditKind = {
  // Control plane (one kind per change, keyed in CONTROL_PLANE_AUDIT_KINDS), its refusals and rejected signals.
  controlPlane: {
    goLiveSet: 'control_plane.go_live_set',
    killSwitchEngaged: 'control_plane.kill_switch_engaged',
    killSwitchReleased: 'control_plane.kill_switch_released',
    killSwitchReduced: 'control_plane.kill_switch_reduced',
    killSwitchReleaseApproved: 'control_plane.kill_switch_release_approved',
    killSwitchReleaseDeclined: 'control_plane.kill_switch_release_declined',
    applyModeSet: 'control_plane.apply_mode_set',
    engineRestricted: 'control_plane.engine_restricted',
    capitalBandChanged: 'control_plane.capital_band_changed',
    changeRefused: 'control_plane.change_refused',
    signalRejected: 'control_plane.signal_rejected',
    engineRestrictionCleared: 'control_plane.engine_restriction_cleared',
    changeDropped: 'control_plane.change_dropped',
    queueOverflow: 'control_plane.queue_overflow',
  },
  // Go-live playbook and operator sessions.
  goLive: {
    playbookStarted: 'go_live.playbook_started',
    stepCompleted: 'go_live.step_completed',
    stepRefused: 'go_live.step_refused',
    playbookCompleted: 'go_live.playbook_completed',
    playbookAbandoned: 'go_live.playbook_abandoned',
    messageRejected: 'go_live.message_rejected',
    sessionStarted: 'go_live.session_started',
    sessionEnded: 'go_live.session_ended',
  },
  // A deal's final outcome, keyed by `DealResult['status']` (counted by the deal-outcome metric).
  deal,
  // A deal's lifecycle: a second workflow answered with the first's result, an operator's reconciliation,
  // and the reservation sweep's verdicts on a closed workflow's holdings (released, or flagged for reconciliation).
  dealLifecycle: {
    claimReplayed: 'deal.claim_replayed',
    reconciled: 'deal.reconciled',
    reconcileRefused: 'deal.reconcile_refused',
    releaseApproved: 'deal.release_approved',
    orphanReleased: 'deal.orphan_released',
    orphanFlagged: 'deal.orphan_flagged',
  },
  // Deal gates: risk reservations and policies, prod eligibility (Heimdall), permits and the governor's disarm.
  risk: { reserve: 'risk.reserve', reserveDenied: 'risk.reserve_denied', policySet: 'risk.policy_set' },
  heimdall: {
    recommendationCreated: 'heimdall.recommendation_created',
    prodEligible: 'heimdall.prod_eligible',
    prodIneligible: 'heimdall.prod_ineligible',
    policySet: 'heimdall.policy_set',
  },
  permit: { issued: 'permit.issued', blocked: 'permit.blocked' },
  // What an action is: engine execution policies, and positions reconciled by an operator.
  executionPolicy: { set: 'execution_policy.set' },
  position: { reconciled: 'position.reconciled' },
  governor: { autoDisarm: 'governor.auto_disarm' },
  // Strategies and their order tokens.
  strategy: {
    changed: 'strategy.changed',
    promoted: 'strategy.promoted',
    /** An approved promotion found the strategy no longer at the level it started from: nothing applied. */
    promotionStale: 'strategy.promotion_stale',
    /** A strategyPromotion started for an id Warden holds no open promotion record for. */
    promotionRefused: 'strategy.promotion_refused',
    demoted: 'strategy.demoted',
    paused: 'strategy.paused',
  },
  token: { issued: 'token.issued', revoked: 'token.revoked', used: 'token.used', refused: 'token.refused' },
  // Watchdogs: regression tripwires, the infrastructure canary, engine restrictions (keyed by restriction kind).
  tripwire: { policySet: 'tripwire.policy_set', triggered: 'tripwire.triggered', reset: 'tripwire.reset' },
  canary: { tripped: 'canary.tripped', recovered: 'canary.recovered' },
  restrictionApplied,
  restrictionCleared,
  // Autonomy: phases, approvers, readiness, governance reports, refused approval messages.
  autonomy: {
    phaseDefinitionSet: 'autonomy.phase_definition_set',
    approverAdded: 'autonomy.approver_added',
    approverRemoved: 'autonomy.approver_removed',
    phaseApplied: 'autonomy.phase_applied',
    phaseValidated: 'autonomy.phase_validated',
    messageRejected: 'autonomy.message_rejected',
  },
  readiness: { attested: 'readiness.attested' },
  governance: { report: 'governance.report' },
  // The weekly governance workflow (issue 19): one week's review, its steering and its Friday decision.
  week: {
    reviewRecorded: 'week.review_recorded',
    reviewAcknowledged: 'week.review_acknowledged',
    reviewUnacknowledged: 'week.review_unacknowledged',
    held: 'week.held',
    released: 'week.released',
    noted: 'week.noted',
    attested: 'week.attested',
    refused: 'week.refused',
    fridayDecided: 'week.friday_decided',
  },
  // A governed command's outcome, keyed by `CommandStatus`; a command type's policy (its execution class).
  command,
  commandPolicy: { set: 'command_policy.set' },
  // An expansion proposal's history, keyed by `ProposalEvent`.
  proposal,
  // Warden's own record of a proposal (expansion or promotion): its terms, written before its workflow runs.
  proposalRecord: { recorded: 'proposal_record.recorded' },
  // A change request's history (governed state changes), keyed by `ChangeRequestEvent`.
  changeRequest,
  // Circuit breakers: rules, resolutions, and trips keyed by the rule's action.
  breaker: { ruleSet: 'breaker.rule_set', resolved: 'breaker.resolved' },
  breakerTripped,
  // Operator surface: refused API requests, keys, approval tokens, Alertmanager alerts recorded (keyed by status).
  api: {
    requestRefused: 'api.request_refused',
    /** A request without a valid key: the source address and route, never the key presented. */
    authenticationFailed: 'api.authentication_failed',
  },
  apiKey: { created: 'api_key.created', revoked: 'api_key.revoked', activated: 'api_key.activated' },
  approvalToken: { issued: 'approval_token.issued' },
  /** Something waits for people's approval (a command, an order, a promotion): who may give it and by when. */
  approval: { waiting: 'approval.waiting' },
  alert,
  // Notifications.
  notification: { deliveryFailed: 'notification.delivery_failed' },
  /** The heads of every audit chain, recorded on chain 0: removing a whole chain is then evident. */
  audit: { epoch: 'audit.epoch' },
} as const;

type Leaves<T> = T extends string ? T : { [K in keyof T]: Leaves<T[K]> }[keyof T];

/** Any kind in the catalogue: what an audit entry's `kind` must be. */
export type AuditKindName = Leaves<typeof AuditKind>;
