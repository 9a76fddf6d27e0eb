import { z } from 'zod';
import { ExecutionClassSchema, ReasonSchema } from '../../domain/control-plane/types';
import { ReconcilePositionInputSchema, SetExecutionPolicyInputSchema } from '../../domain/deals/policy';
import { type PositionScope } from '../../domain/deals/positions';
import { SymbolSchema } from '../../domain/permits/rules';
import { EngineSchema } from '../../domain/risk/rules';
import {
  EXIT,
  expectArgs,
  field,
  type Invocation,
  optionalBool,
  optionalField,
  printJsonOr,
  sub,
  table,
  UsageError,
} from './shared';
import { printSubmitted } from './change-commands';

// What an action is (issue 13): engine execution policies and Warden's positions.
// Both writes are audited in the transaction that makes them.

async function policiesList({ flags, ops }: Invocation): Promise<number> {
  const policies = await ops.call('executionPolicies.list', {});
  printJsonOr(flags, policies, () => [
    ...table(
      ['engine', 'class', 'strategy_required', 'recommendation_required', 'updated_by', 'reason'],
      policies.map((p) => [
        p.engine,
        p.executionClass,
        p.strategyRequired ? 'yes' : 'no',
        p.recommendationRequired ? 'yes' : 'no',
        p.updatedBy,
        p.reason,
      ]),
    ),
    'an engine without a row: PROD_EXEC, no gate required (go-live and the kill switch apply)',
  ]);
  return EXIT.ok;
}

async function policiesSet({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('engine-policies set', args, 1);
  const engine = field('engine', EngineSchema, args[0]);
  const changes = {
    executionClass: optionalField('--class', ExecutionClassSchema, flags.class),
    strategyRequired: optionalBool('--strategy-required', flags['strategy-required']),
    recommendationRequired: optionalBool('--recommendation-required', flags['recommendation-required']),
  };
  if (Object.values(changes).every((v) => v === undefined))
    throw new UsageError(
      'engine-policies set: give at least one of --class, --strategy-required, --recommendation-required',
    );
  const reason = field('--reason', ReasonSchema, flags.reason);
  const current = await ops.call('executionPolicy.read', { engine });
  const input = field('policy', SetExecutionPolicyInputSchema.omit({ actor: true }), {
    engine,
    executionClass: changes.executionClass ?? current.executionClass,
    strategyRequired: changes.strategyRequired ?? current.strategyRequired,
    recommendationRequired: changes.recommendationRequired ?? current.recommendationRequired,
    reason,
  });
  return printSubmitted(flags, await ops.call('executionPolicy.set', input));
}

/** `--strategy S` or `--engine E`: whose position. */
function scopeOf(flags: Invocation['flags']): { scope: PositionScope; scopeId: string } | undefined {
  if (flags.strategy !== undefined && flags.engine !== undefined)
    throw new UsageError('positions: give --strategy or --engine, not both');
  if (flags.strategy !== undefined)
    return {
      scope: 'strategy',
      scopeId: field('--strategy', ReconcilePositionInputSchema.shape.scopeId, flags.strategy),
    };
  if (flags.engine !== undefined) return { scope: 'engine', scopeId: field('--engine', EngineSchema, flags.engine) };
  return undefined;
}

async function positionsList({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('positions list', args, 0);
  const scope = scopeOf(flags);
  const positions = await ops.call('positions.list', scope ?? {});
  printJsonOr(flags, positions, () =>
    positions.flatMap((p) => [
      `${p.scope} ${p.scopeId} ${p.symbol}: ${p.quantity}${p.heldByExits > 0 ? ` (${p.heldByExits} held by exits in flight)` : ''} — updated by ${p.updatedBy} at ${p.updatedAt}`,
      ...p.changes.map(
        (c) =>
          `  ${c.at}  ${c.delta > 0 ? '+' : ''}${c.delta} → ${c.quantityAfter}  ${c.source === 'deal' ? `deal ${c.dealId ?? '?'}` : `reconciled by ${c.actor}${c.reason ? `: ${c.reason}` : ''}`}`,
      ),
    ]),
  );
  return EXIT.ok;
}

async function positionsSet({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('positions set', args, 0);
  const scope = scopeOf(flags);
  if (!scope) throw new UsageError('positions set: give --strategy S or --engine E');
  const input = field('position', ReconcilePositionInputSchema.omit({ actor: true }), {
    ...scope,
    symbol: field('--symbol', SymbolSchema, flags.symbol),
    quantity: field('--quantity', z.coerce.number().finite(), flags.quantity),
    reason: field('--reason', ReasonSchema, flags.reason),
  });
  // Towards zero applies at once; away from zero (larger reduce-only exits) waits for approval.
  return printSubmitted(flags, await ops.call('positions.reconcile', input));
}

export const policyCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  'engine-policies': sub('engine-policies', { list: policiesList, set: policiesSet }),
  positions: sub('positions', { list: positionsList, set: positionsSet }),
};
