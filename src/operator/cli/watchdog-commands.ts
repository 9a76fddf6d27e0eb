import { z } from 'zod';
import { type ChangeResult, ReasonSchema } from '../../domain/control-plane/types';
import { EngineSchema } from '../../domain/risk/rules';
import { MetricSchema, PolicyIdSchema, policyId, RegressionActionSchema } from '../../domain/watchdogs/tripwire';
import {
  bool,
  EXIT,
  expectArgs,
  field,
  givenChanges,
  type Invocation,
  optionalBool,
  optionalField,
  printJsonOr,
  sub,
  table,
  UsageError,
} from './shared';
import { printSubmitted, submittedLines } from './change-commands';

async function tripwireStatus({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tripwire status', args, 0);
  const { policies: view, restrictions } = await ops.call('tripwire.status', {});
  printJsonOr(flags, { policies: view, restrictions }, () => [
    ...table(
      ['policy', 'enabled', 'window', 'baseline', 'max_drop', 'action', 'state', 'baseline→current', 'drop'],
      view.map((p) => [
        policyId(p),
        p.enabled ? 'yes' : 'no',
        p.windowEvents,
        p.baselineEvents,
        p.maxDropFraction,
        p.action,
        p.state ? (p.state.triggered ? 'TRIGGERED' : p.state.lastDecision) : 'never run',
        p.state?.baseline != null && p.state.current != null
          ? `${p.state.baseline.toFixed(3)}→${p.state.current.toFixed(3)}`
          : null,
        p.state?.dropFraction != null ? `${(p.state.dropFraction * 100).toFixed(1)}%` : null,
      ]),
    ),
    '',
    restrictions.length === 0 ? 'no active throttles or pauses' : 'active restrictions:',
    ...restrictions.map((r) => `  #${r.id} ${r.kind} ${r.engine} by ${r.source} since ${r.createdAt}: ${r.reason}`),
  ]);
  return EXIT.ok;
}

async function tripwireEvaluate({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tripwire evaluate', args, 0);
  const report = await ops.call('tripwire.evaluate', {});
  printJsonOr(flags, report, () => [
    ...(report.evaluated.length === 0
      ? ['no enabled regression policies']
      : report.evaluated.map(
          (e) =>
            `${e.policy}: ${e.decision}${e.dropFraction !== null ? ` (drop ${(e.dropFraction * 100).toFixed(1)}%)` : ''}`,
        )),
    ...report.fired.map((f) => `FIRED ${f.policy} → ${f.action}`),
  ]);
  return EXIT.ok;
}

async function tripwireReset({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tripwire reset', args, 1);
  const policy = args[0]!;
  field('policy', PolicyIdSchema, policy);
  const reason = field('--reason', ReasonSchema, flags.reason);
  // Lifting what it throttled or paused loosens: a change request, for someone else to approve.
  const result = await ops.call('tripwire.reset', { policy, reason });
  printJsonOr(flags, result, () => [
    `reset ${result.policy}; ${result.liftRequest ? '' : 'nothing to lift'}`.trimEnd(),
    ...(result.liftRequest ? submittedLines(result.liftRequest) : []),
  ]);
  return EXIT.ok;
}

async function tripwireSetPolicy({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('tripwire set-policy', args, 1);
  const { domain, metric } = field('policy', PolicyIdSchema, args[0]);
  field('metric', MetricSchema, metric);
  const changes = {
    enabled: optionalBool('--enabled', flags.enabled),
    windowEvents: optionalField('--window', z.coerce.number().int().positive(), flags.window),
    baselineEvents: optionalField('--baseline', z.coerce.number().int().positive(), flags.baseline),
    maxDropFraction: optionalField('--max-drop', z.coerce.number().gt(0).max(1), flags['max-drop']),
    action: optionalField('--action', RegressionActionSchema, flags.action),
    engine: optionalField('--engine', EngineSchema, flags.engine),
  };
  if (Object.values(changes).every((v) => v === undefined))
    throw new UsageError(
      'tripwire set-policy: give at least one of --enabled, --window, --baseline, --max-drop, --action, --engine',
    );
  const current = (await ops.call('tripwire.policies', {})).find((p) => p.domain === domain && p.metric === metric);
  if (!current && (changes.action === undefined || changes.maxDropFraction === undefined)) {
    throw new UsageError(
      `tripwire set-policy: ${domain}/${metric} is new: give --action and --max-drop (window and baseline default to 50 and 200)`,
    );
  }
  const base = current ?? {
    domain,
    metric,
    engine: domain,
    windowEvents: 50,
    baselineEvents: 200,
    maxDropFraction: 0.2,
    action: 'THROTTLE' as const,
    enabled: false,
  };
  const next = { ...base, ...givenChanges(changes) };
  const reason = flags.reason === undefined ? {} : { reason: field('--reason', ReasonSchema, flags.reason) };
  return printSubmitted(flags, await ops.call('tripwire.setPolicy', { policy: next, ...reason }));
}

async function restrictionsList({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('restrictions', args, 0);
  const rows = await ops.call('restrictions.list', { all: flags.all ?? false });
  printJsonOr(flags, rows, () =>
    table(
      ['id', 'kind', 'engine', 'source', 'since', 'cleared', 'reason'],
      rows.map((r) => [
        r.id,
        r.kind,
        r.engine,
        r.source,
        r.createdAt,
        r.clearedAt ? `${r.clearedAt} by ${r.clearedBy}` : null,
        r.reason,
      ]),
    ),
  );
  return EXIT.ok;
}

/** Through the control plane (the one writer of restrictions), answered with the outcome. */
async function restrictionChange(
  { flags }: Invocation,
  change: Promise<ChangeResult>,
  done: (state: ChangeResult) => string,
): Promise<number> {
  const result = await change;
  printJsonOr(flags, result, () => [
    result.outcome.status === 'refused' ? `refused: ${result.outcome.reason}` : done(result),
  ]);
  return result.outcome.status === 'refused' ? EXIT.problem : EXIT.ok;
}

async function restrictionsClear(inv: Invocation): Promise<number> {
  const { flags, args } = inv;
  expectArgs('restrictions clear', args, 1);
  const restrictionId = field('id', z.string().regex(/^[1-9]\d{0,17}$/, 'expected a restriction id'), args[0]);
  const reason = field('--reason', ReasonSchema, flags.reason);
  return printSubmitted(flags, await inv.ops.call('restrictions.clear', { restrictionId, reason }));
}

async function restrictionsAdd(inv: Invocation): Promise<number> {
  const { flags, args } = inv;
  expectArgs('restrictions add', args, 2);
  const kind = field('kind', z.enum(['throttle', 'pause'], { message: 'expected throttle or pause' }), args[0]);
  const engine = field('engine', EngineSchema, args[1]);
  const reason = field('--reason', ReasonSchema, flags.reason);
  return restrictionChange(
    inv,
    inv.ops.call('restrictions.add', { engine, restriction: kind, reason }),
    () => `${kind} on ${engine}`,
  );
}

async function canaryStatus({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('canary status', args, 0);
  const rows = await ops.call('canary.status', {});
  printJsonOr(flags, rows, () =>
    rows.length === 0
      ? ['the canary has not run yet']
      : table(
          ['check', 'status', 'consecutive_failures', 'last_checked', 'last_error'],
          rows.map((r) => [r.name, r.ok ? 'ok' : 'FAILING', r.consecutiveFailures, r.lastCheckedAt, r.lastError]),
        ),
  );
  return EXIT.ok;
}

async function kpiRecord({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('kpi record', args, 0);
  const event = {
    domain: field('--domain', EngineSchema, flags.domain),
    metric: field('--metric', MetricSchema, flags.metric),
    ...(flags.success !== undefined ? { success: bool('--success', flags.success) } : {}),
    ...(flags.value !== undefined ? { value: field('--value', z.coerce.number().finite(), flags.value) } : {}),
  };
  if (event.success === undefined && event.value === undefined)
    throw new UsageError('kpi record: give --success, --value or both');
  await ops.call('kpi.record', event);
  printJsonOr(flags, event, () => [`recorded ${event.domain}/${event.metric}`]);
  return EXIT.ok;
}

async function schedulesApply({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('schedules apply', args, 0);
  const result = await ops.call('schedules.apply', {});
  printJsonOr(flags, result, () => [
    `created: ${result.created.join(', ') || 'none'}; updated: ${result.updated.join(', ') || 'none'}`,
  ]);
  return EXIT.ok;
}

export const watchdogCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  tripwire: sub('tripwire', {
    status: tripwireStatus,
    evaluate: tripwireEvaluate,
    reset: tripwireReset,
    'set-policy': tripwireSetPolicy,
  }),
  restrictions: (inv) =>
    inv.args[0] === 'clear' || inv.args[0] === 'add'
      ? sub('restrictions', { clear: restrictionsClear, add: restrictionsAdd })(inv)
      : restrictionsList(inv),
  canary: sub('canary', { status: canaryStatus }),
  kpi: sub('kpi', { record: kpiRecord }),
  schedules: sub('schedules', { apply: schedulesApply }),
};
