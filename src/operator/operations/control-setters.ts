import { z } from 'zod';
import { createApiKey, listApiKeys, readApiKeyState } from '../../db/api-keys.repository';
import { lastGoLiveOffAt } from '../../db/control-plane-history.repository';
import { readControlPlaneState } from '../../db/control-plane.repository';
import { latestPlaybookCompletion } from '../../db/go-live.repository';
import { newChangeRequestId } from '../../client';
import { classifyChange } from '../../domain/change-requests/classify';
import { playbookProblem } from '../../domain/control-plane/loosening';
import { ActorSchema, ApplyModeSchema, ReasonSchema } from '../../domain/control-plane/types';
import { RoleSchema } from '../../domain/identity/roles';
import { conflict, notFound } from '../api/http';
import { operation } from './operation';
import { type ChangeSubmitted, submitChanges } from './submit-changes';

// Go-live, the apply mode, lifting a restriction, and the API keys that say who holds which role: each a
// change request (invariant 8). Engaging the kill switch and restricting an engine stay direct signals to
// the control plane: they only tighten, and nothing may stand between them and the workflow.

const Reason = { reason: ReasonSchema.optional() };
const RestrictionIdSchema = z.string().regex(/^[1-9]\d{0,17}$/, 'expected a restriction id');
const KeyIdSchema = z.string().regex(/^[0-9a-f]{12}$/, 'expected a key id (12 hex characters)');

/** A control-plane setter's answer: the request, and the control plane as it stands after it. */
async function withState(deps: Parameters<typeof readControlPlaneState>[0], submitted: ChangeSubmitted) {
  return { ...submitted, state: await readControlPlaneState(deps) };
}

export const controlSetterOperations = {
  'goLive.set': operation({
    permission: 'go_live:set',
    summary: 'Turn go-live off (applies now) or on (a change request: others approve; a completed playbook is needed).',
    input: z.strictObject({ enabled: z.boolean(), ...Reason }),
    run: async (deps, identity, { enabled, reason }) => {
      // The control plane refuses go-live without a fresh playbook whatever the approvals: say so before asking anyone.
      if (enabled) {
        const [completed, off] = await Promise.all([latestPlaybookCompletion(deps.db), lastGoLiveOffAt(deps.db)]);
        const problem = playbookProblem(completed?.toISOString() ?? null, off?.toISOString() ?? null);
        if (problem !== null) throw conflict(problem);
      }
      const change = { kind: 'control_plane' as const, target: 'goLive', after: enabled };
      return withState(
        deps.db,
        await submitChanges(deps, identity, [change], reason ?? `go-live ${enabled ? 'on' : 'off'}`),
      );
    },
  }),
  'applyMode.set': operation({
    permission: 'apply_mode:set',
    summary: 'Set the apply mode: towards dry_run applies now; towards testnet or live is a change request.',
    input: z.strictObject({ mode: ApplyModeSchema, ...Reason }),
    run: async (deps, identity, { mode, reason }) =>
      withState(
        deps.db,
        await submitChanges(
          deps,
          identity,
          [{ kind: 'control_plane', target: 'applyMode', after: mode }],
          reason ?? `apply mode ${mode}`,
        ),
      ),
  }),
  'restrictions.clear': operation({
    permission: 'policy:set',
    summary: 'Propose lifting one engine restriction (a change request: someone else approves).',
    input: z.strictObject({ restrictionId: RestrictionIdSchema, reason: ReasonSchema }),
    run: (deps, identity, { restrictionId, reason }) =>
      submitChanges(deps, identity, [{ kind: 'restriction', target: restrictionId, after: null }], reason),
  }),
  'keys.create': operation({
    permission: 'api_key:manage',
    summary:
      'Create an API key for an identity; the key is shown once. Active at once when it grants no more than its creator may (or is the first key); otherwise inactive until its change request is approved.',
    input: z.strictObject({ identity: ActorSchema, roles: z.array(RoleSchema).min(1, 'expected at least one role') }),
    run: async (deps, creator, input) => {
      const after = { identity: input.identity, roles: input.roles, active: true };
      const ctx = { requesterName: creator.name, requesterRoles: creator.roles };
      // The target is unknown before the key exists; classifying needs only what it grants and to whom.
      const { direction } = classifyChange({ kind: 'api_key', target: '000000000000', before: null, after }, ctx);
      // The first key of a deployment: no one holds a key who could approve it, and whoever makes it holds the
      // database itself (the first-key tooling, or the local owner of the embedded one).
      const first = (await listApiKeys(deps.db)).every((k) => !k.active || k.revokedAt !== null);
      if (direction === 'tighten' || first) {
        const created = await createApiKey(deps.db, { ...input, actor: creator.name });
        return { ...created, changeRequest: null };
      }
      const id = newChangeRequestId();
      const created = await createApiKey(deps.db, { ...input, actor: creator.name, pendingChangeRequest: id });
      const changeRequest = await submitChanges(
        deps,
        creator,
        [{ kind: 'api_key', target: created.view.id, after }],
        `key for ${input.identity} (${input.roles.join(', ')})`,
        id,
      );
      return { ...created, changeRequest };
    },
  }),
  'keys.revoke': operation({
    permission: 'api_key:manage',
    summary: 'Revoke an API key (applies now).',
    input: z.strictObject({ id: KeyIdSchema, reason: ReasonSchema }),
    run: async (deps, identity, { id, reason }) => {
      const key = await readApiKeyState(deps.db, id);
      if (!key) throw notFound(`key ${id} not found`);
      return submitChanges(deps, identity, [{ kind: 'api_key', target: id, after: { ...key, active: false } }], reason);
    },
  }),
};
