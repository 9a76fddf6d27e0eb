import type { BreakerTrip } from './breakers';

/**
 * What a newly tripped breaker does to the governance state: revert_to_l3
 * at once (and the proposal under validation is told), pause_command_type
 * for that type, alert_only just records.
 */
export function breakerEffects(
  trip: Pick<BreakerTrip, 'action' | 'commandType'>,
  state: { current_phase: string; active_proposal_id: string | null; paused_command_types: string[] },
): { revert: boolean; notifyProposal: string | null; pausedCommandTypes: string[] | null } {
  const revert = trip.action === 'revert_to_l3' && state.current_phase !== 'L3';
  const pause =
    trip.action === 'pause_command_type' && trip.commandType && !state.paused_command_types.includes(trip.commandType);
  return {
    revert,
    notifyProposal: revert ? state.active_proposal_id : null,
    pausedCommandTypes: pause ? [...state.paused_command_types, trip.commandType!] : null,
  };
}

/** Whether an unresolved event already covers a trip's rule and scope (it does not trip again). */
export const alreadyOpen = (
  open: readonly { rule_name: string; command_type: string | null }[],
  trip: Pick<BreakerTrip, 'rule' | 'commandType'>,
) => open.some((o) => o.rule_name === trip.rule && o.command_type === trip.commandType);
