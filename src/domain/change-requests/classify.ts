import { type BreakerCondition, parseCondition, parseWindow } from '../autonomy/breakers';
import type { ApplyMode, ExecutionClass } from '../control-plane/types';
import { defaultExecutionPolicy } from '../deals/policy';
import { type Role } from '../identity/roles';
import { sameIdentity } from '../identity/separation';
import type { MaturityLevel } from '../strategy/rules';
import type { RegressionAction } from '../watchdogs/tripwire';
import type { PolicyChange, PolicyChangeOf } from './changes';

// Invariant 8 as one pure rule: a change that provably reduces risk applies at
// once; anything else (a raise, a removal, a mix, anything this file cannot
// prove stricter) is a loosening and waits for others' approval. Each field a
// change touches gets a verdict; one loosening field makes the change loosen.

export type Direction = 'tighten' | 'loosen';
export interface Classification {
  direction: Direction;
  /** One line per field that differs, saying what it does and which way. */
  why: string[];
}
export type ClassifiedChange = PolicyChange & Classification;

export interface ClassifyContext {
  /** Who asks: a key for someone else is never a tightening. */
  requesterName: string;
  /** The requester's verified roles: a key granting a role beyond them loosens. */
  requesterRoles: readonly Role[];
}

interface Verdict {
  effect: Direction;
  note: string;
}

export function classifyChange(change: PolicyChange, ctx: ClassifyContext): Classification {
  const verdicts = verdictsOf(change, ctx);
  if (verdicts.length === 0) return { direction: 'tighten', why: ['nothing changes'] };
  const direction = verdicts.every((v) => v.effect === 'tighten') ? 'tighten' : 'loosen';
  return { direction, why: verdicts.map((v) => `${v.note} (${v.effect === 'tighten' ? 'tightens' : 'loosens'})`) };
}

/** A request loosens when any of its changes does. */
export const loosens = (changes: readonly Classification[]): boolean => changes.some((c) => c.direction === 'loosen');

function verdictsOf(change: PolicyChange, ctx: ClassifyContext): Verdict[] {
  switch (change.kind) {
    case 'risk_policy':
      return riskPolicy(change);
    case 'regression_policy':
      return tripwire(change);
    case 'breaker_rule':
      return breaker(change);
    case 'heimdall_policy':
      return heimdall(change);
    case 'strategy':
      return strategy(change);
    case 'execution_policy':
      return executionPolicy(change);
    case 'command_policy':
      return [
        ...rank(
          'executionClass',
          CLASS_STRICTEST_FIRST,
          change.before?.executionClass ?? 'PROD_EXEC',
          change.after.executionClass,
        ),
        // Safe in reduce mode lets the type run while the kill switch is engaged in reduce.
        ...flag('safeInReduce', change.before?.safeInReduce ?? false, change.after.safeInReduce ?? false, false),
      ];
    case 'approver':
      return change.after !== null
        ? [loosen(`adds ${change.after.name} as ${change.after.role} approver`)]
        : [tighten(`removes ${change.before!.name} as ${change.before!.role} approver`)];
    case 'api_key':
      return apiKey(change, ctx);
    case 'control_plane':
      return change.target === 'goLive'
        ? flag('goLive', change.before, change.after, false)
        : rank('applyMode', MODE_STRICTEST_FIRST, change.before, change.after);
    case 'restriction':
      return change.after !== null
        ? [tighten(`places a ${change.after.restriction} on ${change.after.engine}`)]
        : [loosen(`clears ${describeRestriction(change.target, change.before!)}`)];
    case 'execution_token':
      return [
        loosen(
          `issues a token for ${change.after.strategyId}: ${change.after.actions.join('/')} ${change.after.symbols.join(',')} up to ${change.after.maxNotional} for ${change.after.ttlSeconds}s`,
        ),
      ];
    case 'strategy_pause':
      if (change.before === null) return [loosen(`${change.target} has not opted in: nothing to pause or resume`)];
      if (change.before.paused === change.after.paused) return [];
      return change.after.paused ? [tighten(`pauses ${change.target}`)] : [loosen(`lifts ${change.target}'s pause`)];
    case 'breaker_event':
      return breakerEvent(change);
    case 'position':
      return position(change);
    case 'deal_release':
      // The deal may have executed: releasing its reservation frees money on someone's word that it did not.
      return [
        loosen(
          `releases deal ${change.target}'s reservation as not executed (its claim is ${change.before ?? 'absent'})`,
        ),
      ];
    default:
      return unknownKind(change);
  }
}

/** A kind this rule does not know cannot be proven stricter. */
function unknownKind(change: never): Verdict[] {
  return [loosen(`${(change as { kind: string }).kind}: not a change this rule can prove stricter`)];
}

const tighten = (note: string): Verdict => ({ effect: 'tighten', note });
const loosen = (note: string): Verdict => ({ effect: 'loosen', note });
const show = (v: unknown) => (v === null ? 'none' : String(v));

/** A cap: lower, or one set where there was none, tightens; raised or removed loosens. Null is no cap. */
function cap(field: string, before: number | null, after: number | null): Verdict[] {
  if (before === after) return [];
  const note = `${field} ${show(before)} → ${show(after)}`;
  if (after === null) return [loosen(`${note}: removes the cap`)];
  if (before === null) return [tighten(`${note}: sets a cap where there was none`)];
  return after < before ? [tighten(`${note}: lowers the cap`)] : [loosen(`${note}: raises the cap`)];
}

/** A number the gate requires at least: higher tightens. `higher` false flips it (a fraction that loosens when raised). */
function threshold(field: string, before: number, after: number, higher = true): Verdict[] {
  if (before === after) return [];
  const note = `${field} ${before} → ${after}`;
  return after > before === higher ? [tighten(`${note}: stricter`)] : [loosen(`${note}: less strict`)];
}

/** A switch whose `strict` value is the safe one. */
function flag(field: string, before: boolean, after: boolean, strict: boolean): Verdict[] {
  if (before === after) return [];
  const note = `${field} ${before} → ${after}`;
  return after === strict ? [tighten(note)] : [loosen(note)];
}

/** A value on a scale, strictest first: a move towards the front tightens. */
function rank<T extends string>(field: string, scale: readonly T[], before: T, after: T): Verdict[] {
  if (before === after) return [];
  const note = `${field} ${before} → ${after}`;
  return scale.indexOf(after) < scale.indexOf(before) ? [tighten(note)] : [loosen(note)];
}

/** A field nothing proves stricter either way: any change loosens. */
function opaque(field: string, before: unknown, after: unknown, why: string): Verdict[] {
  return before === after ? [] : [loosen(`${field} ${show(before)} → ${show(after)}: ${why}`)];
}

const CLASS_STRICTEST_FIRST: readonly ExecutionClass[] = ['OBSERVE_ONLY', 'SANDBOX_EXEC', 'PROD_EXEC'];
const MODE_STRICTEST_FIRST: readonly ApplyMode[] = ['dry_run', 'testnet', 'live'];
const LEVEL_STRICTEST_FIRST: readonly MaturityLevel[] = ['L0', 'L1', 'L2', 'L3', 'L4'];
const TRIPWIRE_STRONGEST_FIRST: readonly RegressionAction[] = ['KILL_SWITCH', 'REDUCE_ONLY', 'PAUSE', 'THROTTLE'];
const BREAKER_STRONGEST_FIRST = ['revert_to_l3', 'pause_command_type', 'alert_only'] as const;
const SEVERITY_LOUDEST_FIRST = ['critical', 'high', 'medium', 'low'] as const;

/** An engine without a risk policy is refused (`policy_missing`), as is a disabled one. */
function riskPolicy({ before, after }: PolicyChangeOf<'risk_policy'>): Verdict[] {
  if (before === null)
    return after.enabled
      ? [loosen('creates an enabled risk policy: the engine, refused without one, may reserve')]
      : [tighten('creates a disabled risk policy: the engine stays refused')];
  return [
    ...flag('enabled', before.enabled, after.enabled, false),
    ...cap('maxDailyLoss', before.maxDailyLoss, after.maxDailyLoss),
    ...cap('maxDailyExposure', before.maxDailyExposure, after.maxDailyExposure),
    ...cap('maxOpenRisk', before.maxOpenRisk, after.maxOpenRisk),
    ...cap('maxActionsPerDay', before.maxActionsPerDay, after.maxActionsPerDay),
    // Exits past a reached loss cap: on lets money move that the cap stopped.
    ...flag('exitsIgnoreLossCap', before.exitsIgnoreLossCap ?? false, after.exitsIgnoreLossCap ?? false, false),
  ];
}

/** A tripwire only ever stops things, so a new one tightens; it trips on a smaller drop when tightened. */
function tripwire({ before, after }: PolicyChangeOf<'regression_policy'>): Verdict[] {
  if (before === null) return [tighten(`creates a ${after.action} tripwire on ${after.engine}`)];
  return [
    ...flag('enabled', before.enabled, after.enabled, true),
    ...threshold('maxDropFraction', before.maxDropFraction, after.maxDropFraction, false),
    ...rank('action', TRIPWIRE_STRONGEST_FIRST, before.action, after.action),
    ...opaque('engine', before.engine, after.engine, `${before.engine} loses the tripwire`),
    ...opaque('windowEvents', before.windowEvents, after.windowEvents, 'changes what the tripwire compares'),
    ...opaque('baselineEvents', before.baselineEvents, after.baselineEvents, 'changes what the tripwire compares'),
    // A reset blinds the tripwire until a new window and baseline have come in, and forgets the old level.
    ...opaque('baselineSince', before.baselineSince ?? null, after.baselineSince ?? null, 'resets the baseline'),
  ];
}

/** Breakers only ever stop things; a rule trips more often when its trip set grows. */
function breaker({ before, after }: PolicyChangeOf<'breaker_rule'>): Verdict[] {
  if (before === null) return [tighten(`creates a ${after.action} breaker: ${after.condition} over ${after.window}`)];
  const condition = parseCondition(after.condition);
  return [
    ...flag('enabled', before.enabled, after.enabled, true),
    ...breakerCondition(before.condition, after.condition),
    ...breakerWindow(before.window, after.window, 'error' in condition ? undefined : condition),
    ...rank('action', BREAKER_STRONGEST_FIRST, before.action, after.action),
    ...rank('alertSeverity', SEVERITY_LOUDEST_FIRST, before.alertSeverity, after.alertSeverity),
  ];
}

function breakerCondition(before: string, after: string): Verdict[] {
  if (before === after) return [];
  const note = `condition '${before}' → '${after}'`;
  const b = parseCondition(before);
  const a = parseCondition(after);
  if ('error' in b || 'error' in a) return [loosen(`${note}: not comparable`)];
  if (a.metric !== b.metric) return [loosen(`${note}: watches another metric`)];
  const covers = tripSetCovers(b, a);
  if (covers === undefined) return [loosen(`${note}: trips the other way`)];
  if (covers && tripSetCovers(a, b)) return [];
  return covers ? [tighten(`${note}: trips sooner`)] : [loosen(`${note}: trips later`)];
}

/**
 * Whether every value that tripped `b` trips `a` (same metric): `> t` / `>= t`
 * grow as t falls, `< t` / `<= t` as it rises; the inclusive operator covers
 * the strict one at the same threshold. Undefined when they point opposite ways.
 */
function tripSetCovers(b: BreakerCondition, a: BreakerCondition): boolean | undefined {
  const up = (op: string) => op === '>' || op === '>=';
  if (up(b.operator) !== up(a.operator)) return undefined;
  const inclusive = (op: string) => op.endsWith('=');
  if (a.threshold === b.threshold) return inclusive(a.operator) || !inclusive(b.operator);
  return up(a.operator) ? a.threshold < b.threshold : a.threshold > b.threshold;
}

const COUNT_METRICS = new Set(['failures', 'rollbacks', 'criticalIncidents']);

/** A longer window only adds to a count, so a count rule that trips above a number trips sooner; nothing else is provable. */
function breakerWindow(before: string, after: string, condition: BreakerCondition | undefined): Verdict[] {
  if (before === after) return [];
  const note = `window ${before} → ${after}`;
  const b = parseWindow(before);
  const a = parseWindow(after);
  if (typeof b !== 'number' || typeof a !== 'number') return [loosen(`${note}: not comparable`)];
  if (a === b) return [];
  const countAbove =
    condition !== undefined && COUNT_METRICS.has(condition.metric) && condition.operator.startsWith('>');
  if (countAbove && a > b) return [tighten(`${note}: counts over a longer window`)];
  return [
    loosen(
      `${note}: ${countAbove ? 'counts over a shorter window' : 'a rate over another window is not provably stricter'}`,
    ),
  ];
}

/** A domain without a Heimdall policy is refused (`policy_missing`), as is one with prod use off. */
function heimdall({ before, after }: PolicyChangeOf<'heimdall_policy'>): Verdict[] {
  if (before === null)
    return after.prodUseEnabled
      ? [loosen('creates a Heimdall policy with prod use on: the domain, refused without one, may pass')]
      : [tighten('creates a Heimdall policy with prod use off: the domain stays refused')];
  return [
    ...flag('prodUseEnabled', before.prodUseEnabled, after.prodUseEnabled, false),
    ...threshold('minConfidenceProd', before.minConfidenceProd, after.minConfidenceProd),
    ...threshold('minSandboxTrials', before.minSandboxTrials, after.minSandboxTrials),
    ...threshold('minSandboxSuccessRate', before.minSandboxSuccessRate, after.minSandboxSuccessRate),
  ];
}

/** Seed 001: promotion is slow and approved, demotion fast. The health floor is the least sizing multiplier: raising it sizes up. */
function strategy({ before, after }: PolicyChangeOf<'strategy'>): Verdict[] {
  if (before === null)
    return !after.enabled || after.level === 'L0'
      ? [tighten(`registers ${after.enabled ? 'at L0' : 'disabled'}: it cannot trade yet`)]
      : [loosen(`registers an enabled strategy at ${after.level}: it skips the ladder below`)];
  return [
    ...rank('level', LEVEL_STRICTEST_FIRST, before.level, after.level),
    ...flag('enabled', before.enabled, after.enabled, false),
    ...cap('capital', before.capital, after.capital),
    ...flag('tokenRequired', before.tokenRequired, after.tokenRequired, true),
    ...threshold('healthFloor', before.healthFloor, after.healthFloor, false),
  ];
}

/** An engine without a policy runs as PROD_EXEC with no gate required: that is what a new one is compared with. */
function executionPolicy({ target, before, after }: PolicyChangeOf<'execution_policy'>): Verdict[] {
  const was = before ?? defaultExecutionPolicy(target);
  return [
    ...rank('executionClass', CLASS_STRICTEST_FIRST, was.executionClass, after.executionClass),
    ...flag('strategyRequired', was.strategyRequired, after.strategyRequired, true),
    ...flag('recommendationRequired', was.recommendationRequired, after.recommendationRequired, true),
  ];
}

/**
 * A key grants its roles to its identity. Revoking, or granting less, tightens.
 * Granting anything is a tightening only for the requester's own key and roles
 * the requester holds: a key in another's name would let one person approve as two.
 */
function apiKey({ before, after }: PolicyChangeOf<'api_key'>, ctx: ClassifyContext): Verdict[] {
  if (!after.active)
    return before?.active
      ? [tighten(`revokes ${before.identity}'s key`)]
      : before === null
        ? [tighten('creates an inactive key')]
        : [];
  const granted = before?.active && sameIdentity(before.identity, after.identity) ? before.roles : [];
  const added = after.roles.filter((r) => !granted.includes(r));
  const removed = granted.filter((r) => !after.roles.includes(r));
  const verdicts: Verdict[] =
    removed.length > 0 ? [tighten(`takes ${removed.join(', ')} from ${after.identity}'s key`)] : [];
  if (added.length === 0) return verdicts;
  const what = `${before === null ? 'creates' : before.active ? 'widens' : 'reactivates'} a key for ${after.identity} with ${added.join(', ')}`;
  if (!sameIdentity(after.identity, ctx.requesterName))
    return [...verdicts, loosen(`${what}: a key in someone else's name`)];
  const unheld = added.filter((r) => !ctx.requesterRoles.includes(r));
  return [
    ...verdicts,
    unheld.length > 0
      ? loosen(`${what}: ${unheld.join(', ')} not held by the requester`)
      : tighten(`${what}: the requester's own key, with roles the requester holds`),
  ];
}

/** Resolving lifts a command-type pause (loosens); any other event only closes, so its rule may trip again. */
function breakerEvent({ target, before, after }: PolicyChangeOf<'breaker_event'>): Verdict[] {
  if (before === null) return [loosen(`breaker event ${target}: no such event`)];
  if (before.resolved) return [];
  const note = `resolves breaker event ${target} (${after.rule})`;
  return after.action === 'pause_command_type' && after.commandType !== null
    ? [loosen(`${note}: lifts the pause on ${after.commandType}`)]
    : [tighten(`${note}: the rule may trip again`)];
}

/**
 * A position bounds the reduce-only exits it lets through: towards zero (same side) tightens; away from zero,
 * or across it, loosens.
 */
function position({ before, after }: PolicyChangeOf<'position'>): Verdict[] {
  if (before === after) return [];
  const note = `quantity ${before} → ${after}`;
  if (after !== 0 && Math.sign(after) !== Math.sign(before)) return [loosen(`${note}: a new or flipped position`)];
  return Math.abs(after) < Math.abs(before) ? [tighten(`${note}: towards zero`)] : [loosen(`${note}: away from zero`)];
}

function describeRestriction(
  target: string,
  before: { engine: string; restriction?: string | undefined; source?: string | undefined },
): string {
  const what = before.restriction ?? 'restrictions';
  return /^[0-9]+$/.test(target)
    ? `${what} ${target} on ${before.engine}`
    : `every active ${what} on ${before.engine}${before.source ? ` from ${before.source}` : ''}`;
}
