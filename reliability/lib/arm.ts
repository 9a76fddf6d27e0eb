// What a deployment has done before traffic: the go-live playbook completed,
// go-live on and apply mode live through an approved change request.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { armControlPlane } from '../../test/support/change-requests';
import type { Cluster } from './cluster';

export async function armForLive(cluster: Cluster): Promise<void> {
  await cluster.db
    .insertInto('go_live_playbook')
    .values({
      id: `reliability-${randomUUID()}`,
      status: 'completed',
      steps: JSON.stringify({}),
      started_by: 'reliability-harness',
      started_at: new Date(),
      completed_at: new Date(),
      environment: 'chaos',
    })
    .execute();
  await armControlPlane(cluster.db, cluster.warden, { goLive: true, applyMode: 'live', actor: 'reliability-harness' });
  // The signals are persisted by an activity: wait until the state shows them.
  for (let i = 0; i < 100; i++) {
    const state = await cluster.warden.controlPlaneState();
    if (state.goLiveEnabled && state.applyMode === 'live') return;
    await sleep(100);
  }
  throw new Error('the control plane did not arm within 10 s');
}
