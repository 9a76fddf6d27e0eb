import { z } from 'zod';
import {
  ApplyModeSchema,
  type ChangeControlPlaneInput,
  type ChangeResult,
  type ControlPlaneState,
  KillSwitchModeSchema,
  ReasonSchema,
  ReleaseKillSwitchInputSchema,
} from '../../../domain/control-plane/types';
import { readControlPlaneState } from '../../../db/control-plane.repository';
import { tradingStateOf } from '../../../domain/control-plane/rules';
import { type Identity, RELEASE_APPROVER_ROLES, type Role, RoleSchema } from '../../../domain/identity/roles';
import { badRequest, conflict, type Reply, route, type RouteSpec } from '../http';
import { releaseVoteAudience } from '../../../domain/identity/audience';
import { type ApiDeps, ok, requireRole, signedFor, sourceOf, viaWorkflow } from './shared';
import { controlSetterOperations } from '../../operations/control-setters';
import { runOperation } from '../../operations/operation';
import { type ChangeSubmitted, submittedReply } from '../../operations/submit-changes';

export const Reason = z.strictObject({ reason: ReasonSchema });
/** An engage: halt (the default) or reduce (only position-reducing deals and safe commands run). */
export const EngageBody = z.strictObject({ reason: ReasonSchema, mode: KillSwitchModeSchema.optional() });
export const ReleaseVoteBody = z.strictObject({
  reason: ReasonSchema,
  /** Which approver role to act in, when the key holds several. */
  role: RoleSchema.optional(),
  /** `reduce`: a vote to loosen a halted switch to reduce mode, not to release it. */
  mode: ReleaseKillSwitchInputSchema.shape.mode,
});

export const ChangeResultSchema = z.object({
  outcome: z.object({ status: z.enum(['applied', 'pending', 'refused']) }).loose(),
  state: z.record(z.string(), z.unknown()),
});

/** Answers a control-plane change: 200 applied, 202 waiting for more approvals, 409 refused (with the reason). */
function changeReply(result: ChangeResult): Reply {
  if (result.outcome.status === 'refused')
    throw conflict(result.outcome.reason, { outcome: result.outcome, state: result.state });
  return ok(result, result.outcome.status === 'pending' ? 202 : 200);
}

export async function change(deps: ApiDeps, input: ChangeControlPlaneInput): Promise<Reply> {
  return changeReply(await viaWorkflow('the control plane', () => deps.warden.changeControlPlane(input)));
}

/** A control-plane setter's change request, in this route's answer shape: outcome and state, and the request. */
function submittedChange({ state, ...submitted }: ChangeSubmitted & { state: ControlPlaneState }): Reply {
  return submittedReply(submitted, { outcome: { status: submitted.applied ? 'applied' : 'pending' }, state });
}

/** The one approver role a vote is cast in: named in the body, or the key's only one. */
export function releaseRole(identity: Identity, requested: Role | undefined): Role {
  const held = identity.roles.filter((r) => RELEASE_APPROVER_ROLES.includes(r));
  if (requested !== undefined) return requireRole(identity, requested, held);
  if (held.length > 1)
    throw badRequest(`body.role: ${identity.name} holds several approver roles (${held.join(', ')}); name one`);
  return held[0]!;
}

/**
 * A release vote as the identity: in its approver role, signed by the API (which authenticated it)
 * for `warden-control-plane:<kind>` alone.
 */
export async function vote<K extends 'releaseKillSwitch' | 'declineKillSwitchRelease'>(
  deps: ApiDeps,
  identity: Identity,
  kind: K,
  body: z.infer<typeof ReleaseVoteBody>,
) {
  return {
    kind,
    actor: identity.name,
    role: releaseRole(identity, body.role),
    reason: body.reason,
    ...(body.mode !== undefined ? { mode: body.mode } : {}),
    ...(await signedFor(deps, identity, releaseVoteAudience(kind))),
  };
}

/** The persisted control plane, and every change to it: each acts through the control-plane workflow. */
export function controlPlaneRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      id: 'controlPlane',
      method: 'GET',
      url: '/control-plane',
      access: 'read',
      summary: 'Go-live, kill switch (with release approvals), apply mode and capital band, as persisted.',
      handle: async () => {
        const state = await readControlPlaneState(deps.db);
        return ok({ ...state, tradingState: tradingStateOf(state) });
      },
    }),
    route({
      id: 'engageKillSwitch',
      method: 'POST',
      url: '/control-plane/kill-switch/engage',
      access: 'kill_switch:engage',
      summary:
        'Engage the kill switch now (any write role, or automation): mode halt (the default) stops all production execution, reduce lets only position-reducing deals and safe_in_reduce commands through; reduce → halt applies at once, halt → reduce is a release vote with mode reduce.',
      body: EngageBody,
      response: ChangeResultSchema,
      handle: ({ identity, body }) =>
        change(deps, {
          kind: 'engageKillSwitch',
          source: sourceOf(identity),
          actor: identity.name,
          reason: body.reason,
          ...(body.mode !== undefined ? { mode: body.mode } : {}),
        }),
    }),
    route({
      id: 'releaseKillSwitch',
      method: 'POST',
      url: '/control-plane/kill-switch/release',
      access: 'kill_switch:release',
      summary:
        'Approve releasing the kill switch (approver roles, after the cooldown, never its engager), or with mode reduce loosening a halt to reduce mode. 202 while more approvals are needed; 409 with the reason when refused.',
      body: ReleaseVoteBody,
      response: ChangeResultSchema,
      handle: async ({ identity, body }) => change(deps, await vote(deps, identity, 'releaseKillSwitch', body)),
    }),
    route({
      id: 'declineKillSwitchRelease',
      method: 'POST',
      url: '/control-plane/kill-switch/decline',
      access: 'kill_switch:release',
      summary: 'Decline releasing the kill switch; approvals gathered so far are discarded.',
      body: ReleaseVoteBody,
      response: ChangeResultSchema,
      handle: async ({ identity, body }) => change(deps, await vote(deps, identity, 'declineKillSwitchRelease', body)),
    }),
    route({
      id: 'setGoLive',
      method: 'POST',
      url: '/control-plane/go-live',
      access: 'go_live:set',
      summary:
        'Turn go-live off (applies now, 200) or on (a change request others approve, 202; a completed playbook is needed).',
      body: z.strictObject({ enabled: z.boolean(), reason: ReasonSchema.optional() }),
      response: ChangeResultSchema,
      handle: async ({ identity, body }) =>
        submittedChange(await runOperation(controlSetterOperations['goLive.set'], deps, identity, body)),
    }),
    route({
      id: 'setApplyMode',
      method: 'POST',
      url: '/control-plane/apply-mode',
      access: 'apply_mode:set',
      summary:
        'Set apply mode dry_run | testnet | live: towards dry_run applies now (200), towards live opens a change request (202).',
      body: z.strictObject({ mode: ApplyModeSchema, reason: ReasonSchema.optional() }),
      response: ChangeResultSchema,
      handle: async ({ identity, body }) =>
        submittedChange(await runOperation(controlSetterOperations['applyMode.set'], deps, identity, body)),
    }),
  ];
}
