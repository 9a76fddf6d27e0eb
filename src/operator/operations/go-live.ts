import { z } from 'zod';
import { listOperatorSessions } from '../../db/operator-sessions.repository';
import { ReasonSchema } from '../../domain/control-plane/types';
import { OperatorSchema } from '../../domain/go-live/sessions';
import { safeText } from '../../domain/shared/validation';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID } from '../../../workflows/names';
import { completePlaybookStep, PlaybookStepBody } from '../api/routes/go-live';
import { operation } from './operation';

const Playbook = {
  playbookId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'expected a workflow id')
    .default(GO_LIVE_PLAYBOOK_WORKFLOW_ID),
};
const Notes = { notes: safeText({ max: 2000, multiline: true, minMessage: 'must not be empty' }).optional() };

/** Seed 004's guided go-live playbook and the operator sessions that survive restarts. */
export const goLiveOperations = {
  'playbook.start': operation({
    permission: 'playbook:run',
    summary: 'Start the nine-step go-live playbook, as the caller.',
    input: z.strictObject(Playbook),
    run: async (deps, identity, { playbookId }) => {
      await deps.warden.startGoLivePlaybook({ startedBy: identity.name }, playbookId);
      return { playbookId, startedBy: identity.name };
    },
  }),
  'playbook.step': operation({
    permission: 'playbook:run',
    summary: "Do the playbook's next step with evidence; a refusal (order, band, health, approver) is the answer.",
    input: PlaybookStepBody.extend(Playbook),
    run: (deps, identity, { playbookId, ...body }) => completePlaybookStep(deps, identity, body, playbookId),
  }),
  'playbook.status': operation({
    permission: 'read',
    summary: "The playbook's progress.",
    input: z.strictObject(Playbook),
    run: (deps, _identity, { playbookId }) => deps.warden.playbookProgress(playbookId),
  }),
  'playbook.abandon': operation({
    permission: 'playbook:run',
    summary: 'Abandon the playbook, saying why.',
    input: z.strictObject({ ...Playbook, reason: ReasonSchema }),
    run: (deps, identity, { playbookId, reason }) =>
      deps.warden.abandonPlaybook({ actor: identity.name, reason }, playbookId),
  }),
  'session.start': operation({
    permission: 'session:run',
    summary: "Start the caller's operator session; its snapshot of the system is stored.",
    input: z.strictObject(Notes),
    run: (deps, identity, { notes }) =>
      deps.warden.startOperatorSession({
        operator: OperatorSchema.parse(identity.name),
        ...(notes ? { notes } : {}),
      }),
  }),
  'session.end': operation({
    permission: 'session:run',
    summary: "End an operator's active session (the caller's by default) with a closing snapshot.",
    input: z.strictObject({ operator: OperatorSchema.optional(), ...Notes }),
    run: (deps, identity, { operator, notes }) =>
      deps.warden.endOperatorSession({
        operator: operator ?? identity.name,
        actor: identity.name,
        ...(notes ? { notes } : {}),
      }),
  }),
  'session.list': operation({
    permission: 'read',
    summary: 'Operator sessions with their snapshots, active only when asked.',
    input: z.strictObject({ active: z.boolean().default(false) }),
    run: (deps, _identity, { active }) => listOperatorSessions(deps.db, { activeOnly: active }),
  }),
};
