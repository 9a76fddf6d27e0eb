import { z } from 'zod';
import {
  AcknowledgeReviewSchema,
  HoldSchema,
  isoWeekOf,
  NoteSchema,
  ReleaseHoldSchema,
  WeekIdSchema,
  weeklyGovernanceWorkflowId,
} from '../../domain/autonomy/week';
import {
  acknowledgeReviewUpdate,
  holdUpdate,
  noteUpdate,
  releaseHoldUpdate,
  weekStatusQuery,
} from '../../../workflows/messages';
import { releaseRole } from '../api/routes/control-plane';
import { signedFor, viaWorkflow } from '../api/routes/shared';
import { approvalAudience } from '../../domain/identity/audience';
import { operation, type OperationDeps } from './operation';

// The week's governance (issue 19) for the CLI and the API: its workflow's query and updates, as the
// caller's identity. The same names and JSON the Temporal CLI and UI send.

const Week = { week: WeekIdSchema.optional() };
const weekOf = (week: string | undefined) => week ?? isoWeekOf(new Date());
const handle = (deps: OperationDeps, week: string | undefined) =>
  deps.temporal.workflow.getHandle(weeklyGovernanceWorkflowId(weekOf(week)));
const what = (week: string | undefined) => `the week ${weekOf(week)}`;

export const weekOperations = {
  'week.status': operation({
    permission: 'read',
    summary: "This week's governance (or WEEK's): the Monday review, holds, notes, attestations, Friday's decision.",
    input: z.strictObject(Week),
    run: (deps, _identity, { week }) => viaWorkflow(what(week), () => handle(deps, week).query(weekStatusQuery)),
  }),
  'week.acknowledge': operation({
    permission: 'change:request',
    summary: "Attest that this week's Monday review was read.",
    input: z.strictObject({ ...Week, note: AcknowledgeReviewSchema.shape.note }),
    run: (deps, identity, { week, note }) =>
      viaWorkflow(what(week), () =>
        handle(deps, week).executeUpdate(acknowledgeReviewUpdate, {
          args: [{ actor: identity.name, ...(note !== undefined ? { note } : {}) }],
        }),
      ),
  }),
  'week.hold': operation({
    permission: 'change:request',
    summary: "Hold this week's expansion, promotions or all of Friday's proposals, at once.",
    input: z.strictObject({ ...Week, scope: HoldSchema.shape.scope, reason: HoldSchema.shape.reason }),
    run: (deps, identity, { week, scope, reason }) =>
      viaWorkflow(what(week), () =>
        handle(deps, week).executeUpdate(holdUpdate, { args: [{ actor: identity.name, scope, reason }] }),
      ),
  }),
  'week.release': operation({
    // A loosening: an approver role, never whoever held, and the key's signed approval when they are on.
    permission: 'kill_switch:release',
    summary: "Lift this week's holds (an approver, not whoever held).",
    input: z.strictObject({ ...Week, reason: ReleaseHoldSchema.shape.reason, role: ReleaseHoldSchema.shape.role }),
    run: async (deps, identity, { week, reason, role }) => {
      const id = weeklyGovernanceWorkflowId(weekOf(week));
      const release = {
        actor: identity.name,
        reason,
        role: releaseRole(identity, role),
        ...(await signedFor(deps, identity, approvalAudience(id, 'releaseHold'))),
      };
      return viaWorkflow(what(week), () => handle(deps, week).executeUpdate(releaseHoldUpdate, { args: [release] }));
    },
  }),
  'week.note': operation({
    permission: 'change:request',
    summary: 'A note on this week.',
    input: z.strictObject({ ...Week, text: NoteSchema.shape.text }),
    run: (deps, identity, { week, text }) =>
      viaWorkflow(what(week), () =>
        handle(deps, week).executeUpdate(noteUpdate, { args: [{ actor: identity.name, text }] }),
      ),
  }),
};
