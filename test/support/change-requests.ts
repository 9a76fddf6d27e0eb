import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordChangeRequest } from '../../src/db/change-requests.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import type { Database } from '../../src/db/database';
import type { PolicyChange } from '../../src/domain/change-requests/changes';
import type { ChangeRequestStatus } from '../../src/domain/change-requests/request';
import type { ApplyMode } from '../../src/domain/control-plane/types';

// Tests about other things start from an approved change request instead of
// walking one through its approvals: the control plane takes a loosening
// signal only as the application of such a request (invariant 8).

/** Records a change request for `changes` in `status` (approved unless told) and answers its id. */
export async function recordedChangeRequest(
  db: Kysely<Database>,
  changes: PolicyChange[],
  status: Extract<ChangeRequestStatus, 'pending' | 'approved'> = 'approved',
): Promise<string> {
  const id = `cr-${randomBytes(6).toString('hex')}`;
  const now = new Date();
  await db.transaction().execute((trx) =>
    recordChangeRequest(trx, {
      id,
      runId: `test-${id}`,
      requestedBy: { name: 'test-requester', roles: ['manager'] },
      reason: 'test fixture',
      changes: changes.map((c) => ({ ...c, direction: 'loosen', why: ['test fixture'] })),
      required: [],
      status,
      applyAt: null,
      expiresAt: new Date(now.getTime() + 86_400_000),
      createdAt: now,
    }),
  );
  return id;
}

/** The control-plane signals a test arms Warden with (a WardenClient, or anything with the same methods). */
interface ControlPlaneSignals {
  setGoLive(input: { enabled: boolean; actor: string; reason?: string; changeRequestId?: string }): Promise<void>;
  setApplyMode(input: { mode: ApplyMode; actor: string; reason?: string; changeRequestId?: string }): Promise<void>;
}

/**
 * Go-live on and/or an apply mode towards live, each applying an approved change request. The playbook
 * guard still holds: a test that turns go-live on marks a playbook completed first.
 */
export async function armControlPlane(
  db: Kysely<Database>,
  warden: ControlPlaneSignals,
  arm: { goLive?: boolean; applyMode?: ApplyMode; actor?: string; reason?: string },
): Promise<string> {
  const state = await readControlPlaneState(db);
  const changes: PolicyChange[] = [];
  if (arm.goLive) changes.push({ kind: 'control_plane', target: 'goLive', before: state.goLiveEnabled, after: true });
  if (arm.applyMode !== undefined)
    changes.push({ kind: 'control_plane', target: 'applyMode', before: state.applyMode, after: arm.applyMode });
  const changeRequestId = await recordedChangeRequest(db, changes);
  const who = {
    actor: arm.actor ?? 'ops',
    ...(arm.reason !== undefined ? { reason: arm.reason } : {}),
    changeRequestId,
  };
  if (arm.goLive) await warden.setGoLive({ enabled: true, ...who });
  if (arm.applyMode !== undefined) await warden.setApplyMode({ mode: arm.applyMode, ...who });
  return changeRequestId;
}
