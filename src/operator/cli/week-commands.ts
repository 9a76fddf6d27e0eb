import { RoleSchema } from '../../domain/identity/roles';
import { HoldSchema, NoteSchema, WeekIdSchema, type WeekStatus } from '../../domain/autonomy/week';
import { ReasonSchema } from '../../domain/control-plane/types';
import { EXIT, field, type Invocation, optionalField, printJsonOr, sub, UsageError } from './shared';

// `warden week`: this ISO week's governance workflow (issue 19), read and steered as the key's identity.

function describeWeek(w: WeekStatus): string[] {
  const hours = (w.msUntilFriday / 3_600_000).toFixed(1);
  return [
    `week ${w.week}: Friday's decision ${w.friday ? `made at ${w.friday.decidedAt}` : `at ${w.fridayAt} (in ${hours} h)`}`,
    `review:     ${w.review ? `recorded ${w.review.at}, health ${w.review.summary.health}; ${w.review.summary.broke} broke, ${w.review.summary.denied} denied, ${w.review.summary.unresolvedOutcomes} unresolved` : 'not yet (Monday 00:00 UTC)'}`,
    `read:       ${w.acknowledged ? `by ${w.acknowledged.actor} at ${w.acknowledged.at}` : `not acknowledged${w.reminded ? ' (operators reminded)' : ''}`}`,
    `holds:      ${w.holds.length === 0 ? 'none' : w.holds.map((h) => `${h.scope} by ${h.actor}: ${h.reason}`).join('; ')}`,
    ...(w.suppressed.length > 0 ? [`suppressed: ${w.suppressed.join(', ')} on Friday`] : []),
    ...w.notes.map((n) => `note:       ${n.at} ${n.actor}: ${n.text}`),
    ...w.attestations.map((a) => `attested:   ${a.item} ${a.passed ? 'passed' : 'FAILED'} by ${a.actor}`),
    ...(w.friday
      ? [
          `friday:     expand ${w.friday.expand ? 'yes' : 'no'}${w.friday.proposalId ? `, proposal ${w.friday.proposalId}` : ''}${w.friday.changeRequestId ? `, change request ${w.friday.changeRequestId}` : ''}${w.friday.held.length > 0 ? `, held: ${w.friday.held.join(', ')}` : ''}`,
        ]
      : []),
  ];
}

const weekFlag = (inv: Invocation) => {
  const week = optionalField('--week', WeekIdSchema, inv.flags.week);
  return week === undefined ? {} : { week };
};
const print = (inv: Invocation, w: WeekStatus) => {
  printJsonOr(inv.flags, w, () => describeWeek(w));
  return EXIT.ok;
};
const noArgs = (inv: Invocation, name: string) => {
  if (inv.args.length > 0) throw new UsageError(`${name}: takes no arguments`);
};

const weekSub = sub('week', {
  status: async (inv) => (noArgs(inv, 'week status'), print(inv, await inv.ops.call('week.status', weekFlag(inv)))),
  hold: async (inv) =>
    print(
      inv,
      await inv.ops.call('week.hold', {
        ...weekFlag(inv),
        scope: field('--scope', HoldSchema.shape.scope, inv.flags.scope),
        reason: field('--reason', ReasonSchema, inv.flags.reason),
      }),
    ),
  release: async (inv) =>
    print(
      inv,
      await inv.ops.call('week.release', {
        ...weekFlag(inv),
        reason: field('--reason', ReasonSchema, inv.flags.reason),
        // In one of the key's approver roles (named when it holds several), signed by the API.
        ...(inv.flags.role === undefined ? {} : { role: field('--role', RoleSchema, inv.flags.role) }),
      }),
    ),
  ack: async (inv) =>
    print(
      inv,
      await inv.ops.call('week.acknowledge', {
        ...weekFlag(inv),
        ...(inv.flags.note !== undefined ? { note: inv.flags.note } : {}),
      }),
    ),
  note: async (inv) =>
    print(
      inv,
      await inv.ops.call('week.note', {
        ...weekFlag(inv),
        text: field('--text', NoteSchema.shape.text, inv.flags.text),
      }),
    ),
});

export const weekCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  // `warden week` alone is the status.
  week: (inv) => (inv.args.length === 0 ? weekSub({ ...inv, args: ['status'] }) : weekSub(inv)),
};
