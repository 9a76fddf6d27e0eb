import { z } from 'zod';
import { type ChangeControlPlaneInput, ReasonSchema, RestrictionSourceSchema } from '../../domain/control-plane/types';
import type { Identity } from '../../domain/identity/roles';
import { EngineSchema } from '../../domain/risk/rules';
import { EngageBody, ReleaseVoteBody, vote } from '../api/routes/control-plane';
import { sourceOf, viaWorkflow } from '../api/routes/shared';
import { operation, type OperationDeps } from './operation';

/**
 * Every change goes through the control plane's update and answers with its outcome (applied, pending,
 * refused) and the state after it: a refusal is the workflow's answer, for the caller to show.
 */
const change = (deps: OperationDeps, input: ChangeControlPlaneInput) =>
  viaWorkflow('the control plane', () => deps.warden.changeControlPlane(input));

/** Who placed a restriction: the identity's kind, qualified with its name (`operator:alice`). */
const restrictionSource = (identity: Identity) =>
  RestrictionSourceSchema.parse(
    `${sourceOf(identity)}:${identity.name.replace(/[^A-Za-z0-9_.@/-]/g, '_').slice(0, 200)}`,
  );

/** Go-live, the kill switch, the apply mode and engine restrictions: the control plane's changes. */
export const controlPlaneOperations = {
  'controlPlane.status': operation({
    permission: 'read',
    summary: "The control plane's state as its workflow answers it (with changes still being persisted).",
    input: z.strictObject({}),
    run: (deps) => viaWorkflow('the control plane', () => deps.warden.controlPlaneState()),
  }),
  'killSwitch.engage': operation({
    permission: 'kill_switch:engage',
    summary: 'Engage the kill switch now: halt (the default), or reduce (only exits and safe commands run).',
    input: EngageBody,
    run: (deps, identity, { reason, mode }) =>
      change(deps, {
        kind: 'engageKillSwitch',
        source: sourceOf(identity),
        actor: identity.name,
        reason,
        ...(mode !== undefined ? { mode } : {}),
      }),
  }),
  'killSwitch.release': operation({
    permission: 'kill_switch:release',
    summary: "An approver's vote to release the kill switch.",
    input: ReleaseVoteBody,
    run: async (deps, identity, body) => change(deps, await vote(deps, identity, 'releaseKillSwitch', body)),
  }),
  'killSwitch.decline': operation({
    permission: 'kill_switch:release',
    summary: "An approver's vote against releasing the kill switch; approvals gathered so far are discarded.",
    input: ReleaseVoteBody,
    run: async (deps, identity, body) => change(deps, await vote(deps, identity, 'declineKillSwitchRelease', body)),
  }),
  'restrictions.add': operation({
    permission: 'engine:restrict',
    summary: 'Throttle or pause one engine.',
    input: z.strictObject({
      engine: EngineSchema,
      restriction: z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }),
      reason: ReasonSchema,
    }),
    run: (deps, identity, { engine, restriction, reason }) =>
      change(deps, {
        kind: 'restrictEngine',
        engine,
        restriction,
        source: restrictionSource(identity),
        actor: identity.name,
        reason,
      }),
  }),
};
