// The activities a deal's steps call: its gates, and the control plane's disarm.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ApprovalActivities } from '../../src/domain/identity/activities';
import type { AutonomyActivities } from '../../src/domain/autonomy/activities';
import type { ControlPlaneActivities } from '../../src/domain/control-plane/activities';
import type { DealActivities, DealPolicyActivities } from '../../src/domain/deals/activities';
import type { StrategyGateActivities } from '../../src/domain/strategy/activities';
import { ErrorType } from '../../src/domain/shared/errors';

// Gate steps are short, idempotent database calls: local activities skip a
// server round-trip each, and their keys make a retry harmless.
export const gates = proxyLocalActivities<
  DealActivities &
    DealPolicyActivities &
    ControlPlaneActivities &
    StrategyGateActivities &
    Pick<AutonomyActivities, 'auditRejectedMessage'> &
    ApprovalActivities
>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: [ErrorType.ReservationNotFound, ErrorType.ReservationStateError],
  },
});
export const controlPlane = proxyActivities<Pick<DealActivities, 'disarmToDryRun'>>({
  startToCloseTimeout: '30 seconds',
});

export const now = () => new Date().toISOString(); // workflow time: deterministic, and skipped in tests
