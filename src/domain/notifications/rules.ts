/**
 * Which audit events operators hear about without looking (seed 004's
 * notification queue), and how a webhook's answer is judged. Pure: used by
 * the audit repository when it appends, and by the delivery activity.
 */
import { AuditKind, type AuditKindName } from '../audit/kinds';

export const NOTIFICATION_KINDS = [
  'kill_switch_engaged',
  'kill_switch_released',
  'disarm',
  'tripwire_fired',
  'canary_tripped',
  'breaker_triggered',
  'proposal_waiting',
  'deal_needs_reconciliation',
  'review_unacknowledged',
  'go_live_changed',
  'apply_mode_live',
  'strategy_demoted',
  'strategy_paused',
  'change_request_waiting',
  'kill_switch_release_waiting',
  'approval_waiting',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface AnnouncedEvent {
  actor: string;
  kind: string;
  subject: string;
  details: Record<string, unknown>;
}

export interface NotificationDraft {
  kind: NotificationKind;
  summary: string;
}

const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' && value !== '' ? value : fallback;
const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
/** An instant as appended (a Date) or as stored (its ISO text). */
const instant = (value: unknown, fallback: string): string =>
  value instanceof Date ? value.toISOString() : text(value, fallback);
const after = (prefix: string, subject: string): string =>
  subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;

/** A rule answers null when this event of its kind owes nothing (apply mode set to anything but live). */
type Rule = (event: AnnouncedEvent) => NotificationDraft | null;

/** Audit kind → notification. Breaker kinds are `breaker.<action>` for each trip action. */
const RULES: Record<string, Rule> = {
  [AuditKind.week.reviewUnacknowledged]: ({ subject, details }) => ({
    kind: 'review_unacknowledged',
    summary: `The Monday review of ${after('week:', subject)} is not acknowledged (${text(details.deadline, 'by noon UTC')}): ${text(details.roles, 'an operator')} to read it and acknowledgeReview`,
  }),
  [AuditKind.controlPlane.killSwitchEngaged]: ({ actor, details }) => {
    const change = record(details.change);
    return {
      kind: 'kill_switch_engaged',
      summary: `Kill switch engaged by ${actor} (${text(change.source, 'unknown source')}): ${text(change.reason, 'no reason given')}`,
    };
  },
  [AuditKind.controlPlane.killSwitchReleased]: ({ actor, details }) => ({
    kind: 'kill_switch_released',
    summary: `Kill switch released by ${actor}: ${text(record(details.change).reason, 'no reason given')}`,
  }),
  [AuditKind.governor.autoDisarm]: ({ subject, details }) => ({
    kind: 'disarm',
    summary: `Governor disarmed to dry_run after a burst on ${after('symbol:', subject)}: ${text(details.detail, text(details.reason, 'burst limit breached'))}`,
  }),
  [AuditKind.tripwire.triggered]: ({ details }) => {
    const drop =
      typeof details.dropFraction === 'number' ? ` dropped ${(details.dropFraction * 100).toFixed(1)}%` : ' fired';
    return {
      kind: 'tripwire_fired',
      summary: `Regression tripwire ${text(details.policy, 'unknown policy')}${drop} → ${text(details.action, 'action unknown')}`,
    };
  },
  [AuditKind.canary.tripped]: ({ details }) => ({
    kind: 'canary_tripped',
    summary: `Infrastructure canary tripped: ${Array.isArray(details.tripped) && details.tripped.length > 0 ? details.tripped.join(', ') : 'checks failing'}`,
  }),
  [AuditKind.breakerTripped.revert_to_l3]: breaker,
  [AuditKind.breakerTripped.pause_command_type]: breaker,
  [AuditKind.breakerTripped.alert_only]: breaker,
  [AuditKind.proposal.created]: ({ subject, details }) => ({
    kind: 'proposal_waiting',
    summary: `Expansion proposal ${after('proposal:', subject)} to ${text(details.targetPhase, 'the next phase')} waits for approval`,
  }),
  // Told when needed (issue 18): go-live either way, apply mode going live, a strategy demoted, and every
  // approval that waits for people, with who may give it and by when.
  [AuditKind.controlPlane.goLiveSet]: ({ actor, details }) => {
    const change = record(details.change);
    return {
      kind: 'go_live_changed',
      summary: `Go-live turned ${change.enabled === true ? 'ON' : 'off'} by ${actor}: ${text(change.reason, 'no reason given')}`,
    };
  },
  [AuditKind.controlPlane.applyModeSet]: ({ actor, details }) => {
    const change = record(details.change);
    if (change.mode !== 'live') return null;
    return {
      kind: 'apply_mode_live',
      summary: `Apply mode set to LIVE by ${actor}: deals now reach real executors (${text(change.reason, 'no reason given')})`,
    };
  },
  [AuditKind.strategy.demoted]: ({ subject, details }) => ({
    kind: 'strategy_demoted',
    summary: `Strategy ${after('strategy:', subject)} demoted ${text(details.from, '?')} → ${text(details.to, '?')} by ${text(details.by, 'Warden')}: ${text(details.reason, 'no reason given')}`,
  }),
  [AuditKind.strategy.paused]: ({ subject, details }) => ({
    kind: 'strategy_paused',
    summary: `Strategy ${after('strategy:', subject)} paused by the strategy gate: ${text(details.reason, 'no reason given')}; its orders are refused until an operator resumes it`,
  }),
  [AuditKind.changeRequest.opened]: ({ actor, subject, details }) => {
    if (!Array.isArray(details.required) || details.required.length === 0) return null;
    return {
      kind: 'change_request_waiting',
      summary: `Change request ${after('change-request:', subject)} by ${actor} waits for approval by ${text(details.needs, 'approvers')} until ${instant(details.expiresAt, 'it expires')}: ${text(details.reason, 'no reason given')}`,
    };
  },
  [AuditKind.controlPlane.killSwitchReleaseApproved]: ({ actor, details }) => {
    const role = record(details.change).role;
    return {
      kind: 'kill_switch_release_waiting',
      summary: `Kill switch release voted by ${actor}${typeof role === 'string' ? ` (${role})` : ''}; it waits for more approvals from owner, manager or risk_officer, not the engager: ${text(record(details.outcome).detail, 'more approvals needed')}`,
    };
  },
  [AuditKind.approval.waiting]: ({ details }) => ({
    kind: 'approval_waiting',
    summary: `${text(details.what, 'Something')} waits for approval by ${Array.isArray(details.roles) && details.roles.length > 0 ? details.roles.join(' or ') : 'an approver'} until ${instant(details.deadline, 'its deadline')}`,
  }),
  [AuditKind.deal.needs_reconciliation]: reconciliation,
  [AuditKind.dealLifecycle.orphanFlagged]: reconciliation,
} satisfies Partial<Record<AuditKindName, Rule>>;

/** A deal that may have executed: its reservation stays held until an operator's reconcileDeal. */
function reconciliation({ subject, details }: AnnouncedEvent): NotificationDraft {
  const result = record(details.result);
  return {
    kind: 'deal_needs_reconciliation',
    summary: `Deal ${after('deal:', subject)} may have executed (${text(result.cause, text(details.cause, 'cause unknown'))}): its reservation stays held until reconcileDeal`,
  };
}

function breaker({ subject, details }: AnnouncedEvent): NotificationDraft {
  const scope = typeof details.commandType === 'string' ? ` on ${details.commandType}` : '';
  return {
    kind: 'breaker_triggered',
    summary: `Circuit breaker ${text(details.rule, after('breaker:', subject))} tripped${scope} (${text(details.action, 'unknown action')}, ${text(details.alertSeverity, 'unknown')} severity): ${text(details.detail, 'no detail')}`,
  };
}

/** The notification an audit event owes, or null when it owes none. */
export function notificationFor(event: AnnouncedEvent): NotificationDraft | null {
  const rule = RULES[event.kind];
  return rule ? rule(event) : null;
}

export type WebhookVerdict = 'delivered' | 'retry' | 'rejected';

/**
 * 2xx delivers. 408, 429 and 5xx are the receiver's passing trouble: retry.
 * Anything else (a redirect, another 4xx) will not change on its own: the
 * delivery fails at once and waits for an operator to fix the configuration.
 */
export function classifyWebhookResponse(status: number): WebhookVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

/** The JSON body every webhook receives. `id` is the same on every retry: receivers dedupe on it. */
export interface NotificationPayload {
  id: string;
  kind: string;
  subject: string;
  summary: string;
  details: Record<string, unknown>;
  at: string;
  environment: string;
}
