import { z } from 'zod';
import { PLAYBOOK_STEP_IDS } from '../go-live/steps';

// What a signed approval is for: one action on one workflow, `<workflowId>:<action>`
// (e.g. `policy-change-cr-1a2b:approve`). A token names its audience and counts
// only there, so a token taken from one request is worthless on any other.

/** The actions an approval token may be issued for: the decisions, the release votes, the playbook's steps. */
export const APPROVAL_ACTIONS = [
  'approve',
  'reject',
  'request',
  'releaseKillSwitch',
  'declineKillSwitchRelease',
  // A week's holds lifted (weekly-governance-<week>:releaseHold).
  'releaseHold',
  ...PLAYBOOK_STEP_IDS,
] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];

/** The control plane's workflow id (workflows/names.ts, pinned equal by a test): activities may not import workflows. */
const CONTROL_PLANE_WORKFLOW_ID = 'warden-control-plane';

/** A token lives at most this long, whatever the configuration asks: it is a bearer credential. */
export const MAX_APPROVAL_TOKEN_TTL_MS = 15 * 60_000;

export function approvalAudience(workflowId: string, action: ApprovalAction): string {
  return `${workflowId}:${action}`;
}

/** The audience of a release vote on the kill switch. */
export function releaseVoteAudience(kind: 'releaseKillSwitch' | 'declineKillSwitchRelease'): string {
  return approvalAudience(CONTROL_PLANE_WORKFLOW_ID, kind);
}

// Workflow ids may hold colons (deal and proposal ids do): the action is what follows the last one.
const AUDIENCE = /^([A-Za-z0-9][A-Za-z0-9._:+-]{0,199}):([A-Za-z_]{1,64})$/;

/** An audience as a caller names it (POST /approval-tokens): a workflow id, a colon, a known action. */
export const ApprovalAudienceSchema = z
  .string()
  .regex(AUDIENCE, 'expected <workflowId>:<action>, e.g. policy-change-cr-1a2b3c4d5e6f:approve')
  .refine((audience) => (APPROVAL_ACTIONS as readonly string[]).includes(AUDIENCE.exec(audience)?.[2] ?? ''), {
    message: `expected an action among ${APPROVAL_ACTIONS.join(', ')} after the last colon`,
  });
