import type { ControlPlanePort } from '../control-plane/port';
import type { ControlPlaneBoundChange } from './changes';

const isRestrictionId = (target: string) => /^[1-9][0-9]*$/.test(target);

/**
 * Sends an applied request's control-plane and restriction changes to the control plane, their one writer
 * (invariant 10), in the request's order, each carrying `changeRequestId` so the control plane can check
 * that a loosening one (go-live on, apply mode towards live, a restriction lifted) is approved. Called after
 * the request's transaction commits; signal-with-start makes each call land even if the control plane
 * was not running, and a resend of the same change is harmless (it sets a value, or clears what is cleared).
 */
export async function applyControlPlaneChanges(
  port: Pick<ControlPlanePort, 'setGoLive' | 'setApplyMode' | 'clearEngineRestriction' | 'restrictEngine'>,
  changes: readonly ControlPlaneBoundChange[],
  ctx: { actor: string; changeRequestId: string },
): Promise<void> {
  const { actor, changeRequestId } = ctx;
  const reason = `change request ${changeRequestId}`;
  for (const change of changes) {
    if (change.kind === 'control_plane') {
      if (change.target === 'goLive') await port.setGoLive({ enabled: change.after, actor, reason, changeRequestId });
      else await port.setApplyMode({ mode: change.after, actor, reason, changeRequestId });
    } else if (change.after === null) {
      const cleared = change.before;
      await port.clearEngineRestriction(
        isRestrictionId(change.target)
          ? { restrictionId: change.target, actor, reason, changeRequestId }
          : {
              engine: change.target,
              ...(cleared?.restriction ? { restriction: cleared.restriction } : {}),
              ...(cleared?.source ? { source: cleared.source } : {}),
              actor,
              reason,
              changeRequestId,
            },
      );
    } else {
      // Placing a restriction tightens: the control plane takes it from anyone.
      await port.restrictEngine({
        engine: change.after.engine,
        restriction: change.after.restriction ?? 'pause',
        source: change.after.source ?? `change_request:${changeRequestId}`,
        actor,
        reason,
      });
    }
  }
}
