import { z } from 'zod';
import {
  ApplyModeSchema,
  type ChangeResult,
  type ControlPlaneState,
  type ControlPlaneView,
  KillSwitchModeSchema,
  ReasonSchema,
  ReleaseKillSwitchInputSchema,
} from '../../domain/control-plane/types';
import { killSwitchModeOf, tradingStateOf } from '../../domain/control-plane/rules';
import { RoleSchema } from '../../domain/identity/roles';
import { printSubmitted } from './change-commands';
import { EXIT, expectArgs, field, type Invocation, out, printJsonOr, UsageError, withDatabase } from './shared';

function describeState(
  view: ControlPlaneState & Partial<Pick<ControlPlaneView, 'pendingChanges' | 'rejectedSignals'>>,
): string[] {
  return [
    `go-live:      ${view.goLiveEnabled ? 'ON' : 'off'}`,
    `trading:      ${tradingStateOf(view)}`,
    `kill switch:  ${view.killSwitchEngaged ? `ENGAGED in ${killSwitchModeOf(view)} (source ${view.killSwitchSource ?? 'unknown'}, by ${view.killSwitchEngagedBy ?? 'unknown'} at ${view.killSwitchEngagedAt ?? '?'})` : 'released'}`,
    ...(view.releaseApprovals.length > 0
      ? [
          `${view.releaseApprovals[0]?.mode === 'reduce' ? 'to reduce:   ' : 'release:     '} approved by ${view.releaseApprovals.map((a) => `${a.actor} (${a.role})`).join(', ')}; more approvals needed`,
        ]
      : []),
    `apply mode:   ${view.applyMode}`,
    `capital band: ${view.capitalBand}${view.capitalUsage === null ? '' : ` (${(view.capitalUsage * 100).toFixed(1)}% of the GLOBAL daily cap)`}`,
    `last change:  v${view.version} by ${view.updatedBy} at ${view.updatedAt}${view.reason ? ` — ${view.reason}` : ''}`,
    ...((view.pendingChanges ?? 0) > 0 ? [`pending:      ${view.pendingChanges} change(s) being persisted`] : []),
    ...((view.rejectedSignals ?? 0) > 0
      ? [`rejected:     ${view.rejectedSignals} invalid signal(s), see the audit log`]
      : []),
  ];
}

/** Prints what became of a change: applied, waiting for approvals, or refused with the reason. */
async function change({ flags }: Invocation, result: Promise<ChangeResult>): Promise<number> {
  const { outcome, state } = await result;
  printJsonOr(flags, { outcome, state }, () => [
    ...(outcome.status === 'refused'
      ? [`refused: ${outcome.reason}`]
      : outcome.status === 'pending'
        ? [`recorded: ${outcome.detail}`]
        : []),
    ...describeState(state),
  ]);
  return outcome.status === 'refused' ? EXIT.problem : EXIT.ok;
}

const optionalReason = (reason: string | undefined) =>
  reason !== undefined ? { reason: field('--reason', ReasonSchema, reason) } : {};

export const controlPlaneCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  async status(inv) {
    expectArgs('status', inv.args, 0);
    const view = await inv.ops.call('controlPlane.status', {});
    printJsonOr(inv.flags, view, () => describeState(view));
    return EXIT.ok;
  },

  async 'go-live'(inv) {
    expectArgs('go-live', inv.args, 1);
    const enabled = field('go-live', z.enum(['on', 'off'], { message: 'expected on or off' }), inv.args[0]) === 'on';
    const submitted = await inv.ops.call('goLive.set', { enabled, ...optionalReason(inv.flags.reason) });
    return printSubmitted(inv.flags, submitted, () => describeState(submitted.state));
  },

  async 'kill-switch'(inv) {
    expectArgs('kill-switch', inv.args, 1);
    const action = field(
      'kill-switch',
      z.enum(['engage', 'release', 'decline'], { message: 'expected engage, release or decline' }),
      inv.args[0],
    );
    const reason = field('--reason', ReasonSchema, inv.flags.reason);
    if (action === 'engage') {
      const mode = inv.flags.mode === undefined ? {} : { mode: field('--mode', KillSwitchModeSchema, inv.flags.mode) };
      return change(inv, inv.ops.call('killSwitch.engage', { reason, ...mode }));
    }
    // A vote, in one of the key's approver roles (named when it holds several), signed by the API.
    const role = inv.flags.role === undefined ? {} : { role: field('--role', RoleSchema, inv.flags.role) };
    // `release --mode reduce`: a vote to loosen a halt to reduce mode, not to release.
    const mode =
      inv.flags.mode === undefined || action !== 'release'
        ? {}
        : { mode: field('--mode', ReleaseKillSwitchInputSchema.shape.mode.unwrap(), inv.flags.mode) };
    return change(
      inv,
      inv.ops.call(action === 'release' ? 'killSwitch.release' : 'killSwitch.decline', { reason, ...role, ...mode }),
    );
  },

  async 'apply-mode'(inv) {
    expectArgs('apply-mode', inv.args, 1);
    const mode = field('apply-mode', ApplyModeSchema, inv.args[0]);
    const submitted = await inv.ops.call('applyMode.set', { mode, ...optionalReason(inv.flags.reason) });
    return printSubmitted(inv.flags, submitted, () => describeState(submitted.state));
  },

  async audit(inv) {
    expectArgs('audit', inv.args, 1);
    field('audit', z.literal('verify', { message: 'expected verify' }), inv.args[0]);
    const result = await inv.ops.call('audit.verify', {});
    printJsonOr(inv.flags, result, () => [
      result.ok
        ? `audit chain intact: ${result.events} event(s) on ${result.chains} chain(s), newest ${result.lastHash.slice(0, 16)}…`
        : `audit chain BROKEN at event ${result.brokenAt.id} (${result.brokenAt.kind} at ${result.brokenAt.at}): ${result.problem}; ${result.events} event(s) before it verified`,
    ]);
    return result.ok ? EXIT.ok : EXIT.problem;
  },

  async migrate(inv) {
    expectArgs('migrate', inv.args, 0);
    if (inv.flags.all && !inv.flags.down) throw new UsageError('--all: only with --down');
    return withDatabase(inv.config, async (database) => {
      const { migrateDown, migrateToLatest } = await import('../../db/migrate');
      const report = inv.flags.down
        ? await migrateDown(database.db, { all: inv.flags.all ?? false })
        : await migrateToLatest(database.db);
      if (report.applied.length === 0) out(`${database.description}: nothing to migrate`);
      for (const r of report.applied) out(`${r.direction === 'Up' ? 'applied' : 'rolled back'} ${r.name}: ${r.status}`);
      return EXIT.ok;
    });
  },
};
