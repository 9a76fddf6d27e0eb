import { z } from 'zod';
import { OperatorSchema, SessionNotesSchema } from '../../../domain/go-live/sessions';
import { readPlaybook } from '../../../db/go-live.repository';
import { listOperatorSessions } from '../../../db/operator-sessions.repository';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID } from '../../../../workflows/names';
import { CompleteStepPayloadSchema } from '../../../domain/go-live/playbook';
import { approvalAudience } from '../../../domain/identity/audience';
import { type Identity, RELEASE_APPROVER_ROLES, RoleSchema } from '../../../domain/identity/roles';
import { conflict, notFound, route, type RouteSpec } from '../http';
import { type ApiDeps, ok, Paging, requireRole, signedFor, viaWorkflow } from './shared';

const SessionParams = z.strictObject({ operator: OperatorSchema });
const SessionNotes = z.strictObject({ notes: SessionNotesSchema.optional() });
/** The workflow's payload less what the API supplies (actor, token); the role one of Warden's. */
export const PlaybookStepBody = CompleteStepPayloadSchema.pick({ step: true, evidence: true }).extend({
  role: RoleSchema.optional(),
});

/**
 * The identity does the playbook's next step, by default in its approver role if it has one (the sign-off
 * needs it), signed by the API. A refusal (order, band, health, approver) is the workflow's result.
 */
export async function completePlaybookStep(
  deps: ApiDeps,
  identity: Identity,
  body: z.infer<typeof PlaybookStepBody>,
  playbookId?: string,
) {
  const role = requireRole(
    identity,
    body.role ?? identity.roles.find((r) => RELEASE_APPROVER_ROLES.includes(r)) ?? identity.roles[0]!,
  );
  // Signed for this step of this playbook alone.
  const audience = approvalAudience(playbookId ?? GO_LIVE_PLAYBOOK_WORKFLOW_ID, body.step);
  return deps.warden.completePlaybookStep(
    {
      step: body.step,
      evidence: body.evidence,
      actor: identity.name,
      role,
      ...(await signedFor(deps, identity, audience)),
    },
    playbookId,
  );
}

/** The guided go-live playbook and the operator sessions that survive restarts. */
export function goLiveRoutes(deps: ApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    route({
      id: 'playbook',
      method: 'GET',
      url: '/playbook',
      access: 'read',
      summary: 'The go-live playbook: steps done, with evidence.',
      handle: async () => {
        const playbook = await readPlaybook(db, GO_LIVE_PLAYBOOK_WORKFLOW_ID);
        if (!playbook) throw notFound('no go-live playbook has been started (POST /playbook/start)');
        return ok(playbook);
      },
    }),
    route({
      id: 'sessions',
      method: 'GET',
      url: '/sessions',
      access: 'read',
      summary: 'Operator sessions with their snapshots.',
      query: Paging.extend({ active: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) =>
        ok(await listOperatorSessions(db, { limit: query.limit, activeOnly: query.active === 'true' })),
    }),
    route({
      id: 'startPlaybook',
      method: 'POST',
      url: '/playbook/start',
      access: 'playbook:run',
      summary: 'Start the nine-step go-live playbook.',
      body: z.strictObject({}),
      handle: async ({ identity }) =>
        viaWorkflow('the go-live playbook', async () => {
          const handle = await deps.warden.startGoLivePlaybook({ startedBy: identity.name });
          return ok({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, 201);
        }),
    }),
    route({
      id: 'completePlaybookStep',
      method: 'POST',
      url: '/playbook/steps',
      access: 'playbook:run',
      summary:
        'Complete the next playbook step with evidence; refused (409) when out of order, in the wrong band or health, or without an approver for sign_off.',
      body: PlaybookStepBody,
      handle: async ({ identity, body }) =>
        viaWorkflow('the go-live playbook', async () => {
          const result = await completePlaybookStep(deps, identity, body);
          if (result.status === 'refused') throw conflict(`${result.reason}: ${result.detail}`, { result });
          return ok(result);
        }),
    }),
    route({
      id: 'startSession',
      method: 'POST',
      url: '/sessions',
      access: 'session:run',
      summary: 'Start an operator session; its snapshot of the system is stored.',
      body: SessionNotes,
      handle: async ({ identity, body }) =>
        viaWorkflow('the session', async () =>
          ok(
            await deps.warden.startOperatorSession({
              operator: identity.name,
              ...(body.notes ? { notes: body.notes } : {}),
            }),
            201,
          ),
        ),
    }),
    route({
      id: 'endSession',
      method: 'POST',
      url: '/sessions/:operator/end',
      access: 'session:run',
      summary: "End an operator's active session with a closing snapshot.",
      params: SessionParams,
      body: SessionNotes,
      handle: async ({ identity, params, body }) =>
        viaWorkflow(`${params.operator}'s session`, async () =>
          ok(
            await deps.warden.endOperatorSession({
              operator: params.operator,
              actor: identity.name,
              ...(body.notes ? { notes: body.notes } : {}),
            }),
          ),
        ),
    }),
  ];
}
