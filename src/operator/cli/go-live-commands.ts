import { z } from 'zod';
import { safeText } from '../../domain/shared/validation';
import { ReasonSchema } from '../../domain/control-plane/types';
import { RoleSchema } from '../../domain/identity/roles';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID } from '../../../workflows/names';
import { PLAYBOOK, PlaybookStepIdSchema, type PlaybookProgress } from '../../domain/go-live/playbook';
import { OperatorSchema, type OperatorSessionView, type SystemSnapshot } from '../../domain/go-live/sessions';
import { EXIT, expectArgs, field, type Invocation, out, printJsonOr, sub, table } from './shared';
import { OperationFailed } from './transport';

const PlaybookIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'expected a workflow id');
const playbookIdOf = (inv: Invocation) => field('--id', PlaybookIdSchema, inv.flags.id ?? GO_LIVE_PLAYBOOK_WORKFLOW_ID);
const notesOf = (inv: Invocation) =>
  inv.flags.notes !== undefined
    ? {
        notes: field(
          '--notes',
          safeText({ max: 2000, multiline: true, minMessage: 'must not be empty' }),
          inv.flags.notes,
        ),
      }
    : {};

function stepLines(): string[] {
  return table(
    ['#', 'step', 'worst band', 'while RED', 'evidence expected'],
    PLAYBOOK.map((s, i) => [
      i + 1,
      s.id + (s.needsApprover ? ' (approver)' : ''),
      s.worstBand,
      s.proceedWhileRed ? 'yes' : 'no',
      s.evidence,
    ]),
  );
}

function describePlaybook(p: PlaybookProgress): string[] {
  return [
    `${p.playbookId}: ${p.status.toUpperCase()}, ${p.done.length}/${PLAYBOOK.length} done${p.nextStep ? `, next: ${p.nextStep}` : ''}${p.abandoned ? ` (abandoned by ${p.abandoned.actor}: ${p.abandoned.reason})` : ''}`,
    ...table(
      ['#', 'step', 'by', 'at', 'band', 'health', 'evidence'],
      PLAYBOOK.map((s, i) => {
        const done = p.done.find((d) => d.step === s.id);
        return [
          i + 1,
          s.id,
          done?.actor ?? null,
          done?.at ?? null,
          done?.band ?? null,
          done?.health ?? null,
          done?.evidence ?? null,
        ];
      }),
    ),
    ...p.refusals.slice(-3).map((r) => `refused ${r.step} (${r.actor}, ${r.at}): ${r.reason}: ${r.detail}`),
  ];
}

const describeSnapshot = (label: string, s: SystemSnapshot) =>
  `${label} ${s.at}: health ${s.health.status}, band ${s.band.band}, go-live ${s.controlPlane.goLiveEnabled ? 'ON' : 'off'}, kill switch ${s.controlPlane.killSwitchEngaged ? 'ENGAGED' : 'released'}, apply mode ${s.controlPlane.applyMode}${s.playbook ? `, playbook ${s.playbook.id} ${s.playbook.status} (${s.playbook.steps}/9)` : ''}`;

function describeSession(v: OperatorSessionView): string[] {
  return [
    `session ${v.sessionId} of ${v.operator}: ${v.status.toUpperCase()}, started ${v.startedAt}${v.endedAt ? `, ended ${v.endedAt}` : ''}`,
    describeSnapshot('  start', v.startSnapshot),
    ...(v.startNotes ? [`    notes: ${v.startNotes}`] : []),
    ...(v.endSnapshot ? [describeSnapshot('  end  ', v.endSnapshot)] : []),
    ...(v.endNotes ? [`    notes: ${v.endNotes}`] : []),
  ];
}

/**
 * A validator's refusal names the field at fault (bad input, exit 2); a missing or already running
 * workflow is exit 3.
 */
async function answered(what: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof OperationFailed)) throw error;
    if (error.status === 404) {
      process.stderr.write(
        `warden: ${what}: ${error.message} (start one with warden playbook start or warden session start)\n`,
      );
      return EXIT.problem;
    }
    if (error.code === 'already_running') {
      process.stderr.write(`warden: ${error.message}\n`);
      return EXIT.problem;
    }
    if (error.status === 409) {
      process.stderr.write(`warden: ${what} refused: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

async function playbookStart(inv: Invocation): Promise<number> {
  expectArgs('playbook start', inv.args, 0);
  const playbookId = playbookIdOf(inv);
  return answered('playbook start', async () => {
    const { startedBy } = await inv.ops.call('playbook.start', { playbookId });
    printJsonOr(inv.flags, { playbookId, startedBy, steps: PLAYBOOK }, () => [
      `go-live playbook ${playbookId} started by ${startedBy}; do the steps in order with warden playbook step STEP --evidence "…"`,
      ...stepLines(),
    ]);
    return EXIT.ok;
  });
}

async function playbookStep(inv: Invocation): Promise<number> {
  expectArgs('playbook step', inv.args, 1);
  const payload = {
    step: field('step', PlaybookStepIdSchema, inv.args[0]),
    evidence: field(
      '--evidence',
      safeText({ max: 4000, multiline: true, minMessage: 'must describe the evidence' }),
      inv.flags.evidence,
    ),
    ...(inv.flags.role !== undefined ? { role: field('--role', RoleSchema, inv.flags.role) } : {}),
  };
  const playbookId = playbookIdOf(inv);
  return answered(`step ${payload.step}`, async () => {
    const result = await inv.ops.call('playbook.step', { ...payload, playbookId });
    if (result.status === 'refused') {
      if (inv.flags.json) out(JSON.stringify(result, null, 2));
      process.stderr.write(`warden: step ${result.step} refused (${result.reason}): ${result.detail}\n`);
      return EXIT.problem;
    }
    printJsonOr(inv.flags, result, () => describePlaybook(result.progress));
    return EXIT.ok;
  });
}

async function playbookStatus(inv: Invocation): Promise<number> {
  expectArgs('playbook status', inv.args, 0);
  const playbookId = playbookIdOf(inv);
  return answered('playbook status', async () => {
    const progress = await inv.ops.call('playbook.status', { playbookId });
    printJsonOr(inv.flags, progress, () => describePlaybook(progress));
    return EXIT.ok;
  });
}

async function playbookAbandon(inv: Invocation): Promise<number> {
  expectArgs('playbook abandon', inv.args, 0);
  const reason = field('--reason', ReasonSchema, inv.flags.reason);
  const playbookId = playbookIdOf(inv);
  return answered('abandon', async () => {
    const progress = await inv.ops.call('playbook.abandon', { reason, playbookId });
    printJsonOr(inv.flags, progress, () => describePlaybook(progress));
    return EXIT.ok;
  });
}

async function sessionStart(inv: Invocation): Promise<number> {
  expectArgs('session start', inv.args, 0);
  return answered('session start', async () => {
    const view = await inv.ops.call('session.start', notesOf(inv));
    printJsonOr(inv.flags, view, () => describeSession(view));
    return EXIT.ok;
  });
}

async function sessionEnd(inv: Invocation): Promise<number> {
  expectArgs('session end', inv.args, 0);
  const operator =
    inv.flags.operator === undefined ? {} : { operator: field('--operator', OperatorSchema, inv.flags.operator) };
  return answered('session end', async () => {
    const view = await inv.ops.call('session.end', { ...operator, ...notesOf(inv) });
    printJsonOr(inv.flags, view, () => describeSession(view));
    return EXIT.ok;
  });
}

async function sessionList(inv: Invocation): Promise<number> {
  expectArgs('session list', inv.args, 0);
  const sessions = await inv.ops.call('session.list', { active: inv.flags.active ?? false });
  printJsonOr(inv.flags, sessions, () =>
    sessions.length === 0
      ? ['no sessions']
      : table(
          ['session', 'operator', 'status', 'started', 'ended', 'health start→end', 'band start→end'],
          sessions.map((s) => [
            s.sessionId,
            s.operator,
            s.status,
            s.startedAt,
            s.endedAt,
            `${s.startSnapshot.health.status}→${s.endSnapshot?.health.status ?? '…'}`,
            `${s.startSnapshot.band.band}→${s.endSnapshot?.band.band ?? '…'}`,
          ]),
        ),
  );
  return EXIT.ok;
}

export const goLiveCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  playbook: sub('playbook', {
    start: playbookStart,
    step: playbookStep,
    status: playbookStatus,
    abandon: playbookAbandon,
    steps: async (inv) => {
      expectArgs('playbook steps', inv.args, 0);
      printJsonOr(inv.flags, PLAYBOOK, stepLines);
      return EXIT.ok;
    },
  }),
  session: sub('session', { start: sessionStart, end: sessionEnd, list: sessionList }),
};
