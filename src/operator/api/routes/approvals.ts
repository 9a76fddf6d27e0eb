import { readChangeRequest } from '../../../db/change-requests.repository';
import { autonomyRolesOf, type Identity } from '../../../domain/identity/roles';
import { CHANGE_REQUEST_WORKFLOW_PREFIX } from '../../../domain/change-requests/id';
import { listWaitingWorkflows, type WaitingWorkflow } from '../../review/waiting-workflows';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok } from './shared';

/** One thing the caller may decide, and where its approve and decline go (the routes every other client uses). */
export interface ApprovalItem extends WaitingWorkflow {
  /** What it is, in words. */
  title: string;
  /** The role the caller decides in: one the item awaits that the caller's key holds. */
  as: string;
  /** POST targets taking `{role, comment}` (approve) and `{role, reason}` (decline); absent: CLI or Temporal UI only. */
  approve?: string;
  decline?: string;
}

const COMMAND_PREFIX = 'command-';

/**
 * Everything awaiting the caller's roles: one visibility query for the roles
 * the key holds (and the autonomy approver roles they map to), less what the
 * caller may not decide (a change request they opened). Deciding goes through
 * the same routes, signatures and workflows as any client's decision.
 */
export async function approvalsFor(deps: ApiDeps, identity: Identity): Promise<ApprovalItem[]> {
  const mine: string[] = [...identity.roles, ...autonomyRolesOf(identity.roles)];
  const waiting = await listWaitingWorkflows(deps.temporal, deps.config.temporal.taskQueue, { roles: mine });
  const items: ApprovalItem[] = [];
  for (const w of waiting) {
    const as = w.roles.find((role) => mine.includes(role));
    if (as === undefined) continue;
    if (w.kind === 'change_request') {
      const id = w.workflowId.slice(CHANGE_REQUEST_WORKFLOW_PREFIX.length);
      const request = await readChangeRequest(deps.db, id);
      // Never one's own request; one already decided (visibility trails by a moment) is gone.
      if (!request || request.status !== 'pending' || request.requestedBy.name === identity.name) continue;
      if (request.approvals.some((a) => a.actor === identity.name)) continue;
      items.push({
        ...w,
        as,
        title: `Change request ${id} by ${request.requestedBy.name}: ${request.reason} (${request.changes.map((c) => `${c.kind} ${c.target}`).join(', ')}), until ${request.expiresAt}`,
        approve: `/change-requests/${id}/approve`,
        decline: `/change-requests/${id}/reject`,
      });
    } else if (w.kind === 'command' && w.workflowId.startsWith(COMMAND_PREFIX)) {
      const id = w.workflowId.slice(COMMAND_PREFIX.length);
      items.push({
        ...w,
        as,
        title: `Command ${id}: ${w.detail}`,
        approve: `/commands/${id}/approve`,
        decline: `/commands/${id}/reject`,
      });
    } else if (w.kind === 'expansion_proposal') {
      items.push({
        ...w,
        as,
        title: `Expansion proposal ${w.workflowId}: ${w.detail}`,
        approve: `/proposals/${w.workflowId}/approve`,
        decline: `/proposals/${w.workflowId}/reject`,
      });
    } else if (w.kind === 'kill_switch_release') {
      items.push({
        ...w,
        as,
        title: `Kill switch release: ${w.detail}`,
        approve: '/control-plane/kill-switch/release',
        decline: '/control-plane/kill-switch/decline',
      });
    } else items.push({ ...w, as, title: `${w.kind.replaceAll('_', ' ')} ${w.workflowId}: ${w.detail}` });
  }
  return items;
}

export function approvalRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      id: 'approvals',
      method: 'GET',
      url: '/approvals',
      access: 'read',
      summary:
        "Everything awaiting the key's roles (change requests, commands, orders, proposals, promotions, the kill-switch release, the week's review), with the routes that approve or decline each.",
      handle: async ({ identity }) => ok(await approvalsFor(deps, identity)),
    }),
  ];
}
