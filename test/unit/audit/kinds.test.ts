import { describe, expect, it } from 'vitest';
import { AuditKind, type AuditKindName } from '../../../src/domain/audit/kinds';

// The audit log, notification routing, metrics, the review and recorded histories match on these strings:
// a kind is added here on purpose, never renamed.
const RECORDED: AuditKindName[] = [
  'alert.firing',
  'alert.resolved',
  'api.request_refused',
  'api_key.created',
  'api_key.revoked',
  'approval_token.issued',
  'autonomy.approver_added',
  'autonomy.message_rejected',
  'autonomy.phase_applied',
  'autonomy.phase_definition_set',
  'autonomy.phase_validated',
  'breaker.alert_only',
  'breaker.pause_command_type',
  'breaker.resolved',
  'breaker.revert_to_l3',
  'breaker.rule_set',
  'canary.recovered',
  'canary.tripped',
  'command.denied',
  'command.dry_run',
  'command.failed',
  'command.rejected',
  'command.rolled_back',
  'command.succeeded',
  'command_policy.set',
  'control_plane.apply_mode_set',
  'control_plane.capital_band_changed',
  'control_plane.change_dropped',
  'control_plane.change_refused',
  'control_plane.engine_restricted',
  'control_plane.engine_restriction_cleared',
  'control_plane.go_live_set',
  'control_plane.kill_switch_engaged',
  'control_plane.kill_switch_release_approved',
  'control_plane.kill_switch_release_declined',
  'control_plane.kill_switch_released',
  'control_plane.queue_overflow',
  'control_plane.signal_rejected',
  'deal.claim_replayed',
  'deal.denied',
  'deal.dry_run',
  'deal.executed',
  'deal.failed',
  'deal.needs_reconciliation',
  'deal.orphan_flagged',
  'deal.orphan_released',
  'deal.paper',
  'deal.reconciled',
  'deal.shadow',
  'go_live.message_rejected',
  'go_live.playbook_abandoned',
  'go_live.playbook_completed',
  'go_live.playbook_started',
  'go_live.session_ended',
  'go_live.session_started',
  'go_live.step_completed',
  'go_live.step_refused',
  'execution_policy.set',
  'governance.report',
  'governor.auto_disarm',
  'heimdall.policy_set',
  'heimdall.prod_eligible',
  'heimdall.prod_ineligible',
  'heimdall.recommendation_created',
  'notification.delivery_failed',
  'permit.blocked',
  'permit.issued',
  'position.reconciled',
  'proposal.applied',
  'proposal.approved',
  'proposal.created',
  'proposal.expired',
  'proposal.refused',
  'proposal.rejected',
  'proposal.reverted',
  'proposal.stale',
  'proposal.validated',
  'proposal_record.recorded',
  'readiness.attested',
  'restriction.pause_applied',
  'restriction.pause_cleared',
  'restriction.throttle_applied',
  'restriction.throttle_cleared',
  'risk.policy_set',
  'risk.reserve',
  'risk.reserve_denied',
  'strategy.changed',
  'strategy.demoted',
  'strategy.paused',
  'strategy.promoted',
  'strategy.promotion_refused',
  'strategy.promotion_stale',
  'token.issued',
  'token.refused',
  'token.revoked',
  'token.used',
  'tripwire.policy_set',
  'tripwire.reset',
  'tripwire.triggered',
];

const leaves = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Object.values(value as object).flatMap(leaves);

describe('AuditKind', () => {
  it('holds every recorded kind, each once, spelt as it always was', () => {
    const kinds = leaves(AuditKind);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect([...kinds].sort()).toEqual([...RECORDED].sort());
  });

  it('spells a keyed kind after its domain value', () => {
    expect(AuditKind.deal.dry_run).toBe('deal.dry_run');
    expect(AuditKind.restrictionCleared.throttle).toBe('restriction.throttle_cleared');
    expect(AuditKind.breakerTripped.revert_to_l3).toBe('breaker.revert_to_l3');
  });
});
