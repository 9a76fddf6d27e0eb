import { describeSlots } from '../../domain/change-requests/approvals';
import { ChangeRequestIdSchema } from '../../domain/change-requests/id';
import { ChangeRequestStatusSchema, type ChangeRequestView } from '../../domain/change-requests/request';
import { ReasonSchema } from '../../domain/control-plane/types';
import { RoleSchema } from '../../domain/identity/roles';
import { safeText } from '../../domain/shared/validation';
import { policyFileOf } from './policy-file-commands';
import type { ChangeSubmitted } from '../operations/submit-changes';
import { EXIT, expectArgs, field, type Flags, type Invocation, optionalField, printJsonOr, sub, table } from './shared';

// `warden change list|show|approve|reject|edit|cancel`: change requests (issue 14), as the key's identity.

const show = (v: unknown) => (v === null ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A request for people: where it stands, each change with before → after and why, the approvals. */
export function describeRequest(view: ChangeRequestView & { message?: string }): string[] {
  return [
    view.message ?? `change request ${view.id}: ${view.status}`,
    `requested by ${view.requestedBy.name} at ${view.createdAt}: ${view.reason}`,
    ...view.changes.flatMap((c) => [
      `  ${c.direction === 'tighten' ? 'tightens' : 'loosens '}  ${c.kind} ${c.target}: ${show(c.before)} → ${show(c.after)}`,
      ...c.why.map((w) => `              ${w}`),
    ]),
    `approvals: ${view.approvals.length === 0 ? 'none yet' : view.approvals.map((a) => `${a.actor} as ${a.role}`).join(', ')}` +
      (view.status === 'pending' ? `; missing ${describeSlots(view.missing)}` : ''),
  ];
}

/** A setter's answer: applied at once (it tightens), or the change request and who must approve it. */
export function submittedLines(s: ChangeSubmitted): string[] {
  return [
    s.message,
    ...s.changes.flatMap((c) => [
      `  ${c.kind} ${c.target}: ${show(c.before)} → ${show(c.after)}`,
      ...c.why.map((w) => `    ${w}`),
    ]),
  ];
}

/** Prints a setter's answer; exit 0 both ways ("pending approval" is an answer, not a failure). */
export function printSubmitted(flags: Flags, s: ChangeSubmitted, extra: () => string[] = () => []): number {
  printJsonOr(flags, s, () => [...submittedLines(s), ...extra()]);
  return EXIT.ok;
}

const idOf = (inv: Invocation, command: string, max = 1) => {
  expectArgs(command, inv.args, max);
  return field('ID', ChangeRequestIdSchema, inv.args[0]);
};

/** Prints a request after a decision or an edit; exit 0 whatever its status (a refusal arrives as an error). */
function printed(inv: Invocation, view: ChangeRequestView & { message: string }): number {
  printJsonOr(inv.flags, view, () => describeRequest(view));
  return EXIT.ok;
}

async function changeList(inv: Invocation): Promise<number> {
  expectArgs('change list', inv.args, 0);
  const status = optionalField('--status', ChangeRequestStatusSchema, inv.flags.status);
  const requests = await inv.ops.call('change.list', status ? { status } : {});
  printJsonOr(inv.flags, requests, () =>
    table(
      ['id', 'status', 'requested_by', 'changes', 'missing', 'created_at'],
      requests.map((r) => [
        r.id,
        r.status,
        r.requestedBy.name,
        r.changes.length,
        r.status === 'pending' ? describeSlots(r.missing) : null,
        r.createdAt,
      ]),
    ),
  );
  return EXIT.ok;
}

export const changeCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  change: sub('change', {
    list: changeList,
    show: async (inv) => printed(inv, await inv.ops.call('change.show', { id: idOf(inv, 'change show') })),
    approve: async (inv) => {
      const id = idOf(inv, 'change approve');
      const comment = optionalField('--comment', safeText({ max: 2000, multiline: true }), inv.flags.comment);
      const role = optionalField('--role', RoleSchema, inv.flags.role);
      const input = { id, ...(role ? { role } : {}), ...(comment ? { comment } : {}) };
      return printed(inv, await inv.ops.call('change.approve', input));
    },
    reject: async (inv) => {
      const id = idOf(inv, 'change reject');
      const role = optionalField('--role', RoleSchema, inv.flags.role);
      const reason = field('--reason', ReasonSchema, inv.flags.reason);
      return printed(inv, await inv.ops.call('change.reject', { id, reason, ...(role ? { role } : {}) }));
    },
    edit: async (inv) => {
      const id = idOf(inv, 'change edit');
      const reason = optionalField('--reason', ReasonSchema, inv.flags.reason);
      return printed(
        inv,
        await inv.ops.call('change.edit', { id, ...policyFileOf(inv), ...(reason ? { reason } : {}) }),
      );
    },
    cancel: async (inv) => {
      const id = idOf(inv, 'change cancel');
      const reason = field('--reason', ReasonSchema, inv.flags.reason);
      return printed(inv, await inv.ops.call('change.cancel', { id, reason }));
    },
  }),
};
