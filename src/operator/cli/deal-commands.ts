import { z } from 'zod';
import { ExecutionClassSchema, ReasonSchema } from '../../domain/control-plane/types';
import { DealIdSchema, type DealResult } from '../../domain/deals/types';
import { DomainSchema } from '../../domain/prod-eligibility/rules';
import { SymbolSchema } from '../../domain/permits/rules';
import { EngineSchema, type RiskPolicy, utcDay } from '../../domain/risk/rules';
import {
  EXIT,
  expectArgs,
  field,
  givenChanges,
  type Invocation,
  optionalBool,
  optionalField,
  printJsonOr,
  table,
  UsageError,
  sub,
} from './shared';
import { OperationFailed } from './transport';
import { printSubmitted } from './change-commands';
import { DealListFilter } from '../review/visibility';

const DateSchema = z.iso.date('expected a date as YYYY-MM-DD');
const money = z.coerce.number().nonnegative('must be 0 or more').finite();
/** A cap as typed: a number, or `none` to lift it. */
const cap = (schema: z.ZodType<number>) => z.union([z.literal('none').transform(() => null), schema]);
const day = (date: string | undefined) => (date === undefined ? utcDay(new Date()) : field('--date', DateSchema, date));

async function riskPolicies({ flags, ops }: Invocation): Promise<number> {
  const policies = await ops.call('risk.policies', {});
  printJsonOr(flags, policies, () =>
    table(
      ['engine', 'enabled', 'max_daily_loss', 'max_daily_exposure', 'max_open_risk', 'max_actions_per_day'],
      policies.map((p) => [
        p.engine,
        p.enabled ? 'yes' : 'NO',
        p.maxDailyLoss,
        p.maxDailyExposure,
        p.maxOpenRisk,
        p.maxActionsPerDay,
      ]),
    ),
  );
  return EXIT.ok;
}

async function riskLedger({ flags, ops }: Invocation): Promise<number> {
  const date = day(flags.date);
  const report = await ops.call('risk.ledger', { day: date });
  printJsonOr(flags, report, () => [
    `risk ledger for ${report.day} (UTC)`,
    ...table(
      ['engine', 'exposure_used', 'open_risk_reserved', 'realized_loss', 'actions'],
      report.engines.map((e) => [e.engine, e.exposureUsed, e.openRiskReserved, e.realizedLoss, e.actions]),
    ),
    '',
    report.denials.length === 0 ? 'no denials' : 'denials by reason:',
    ...report.denials.map((d) => `  ${d.engine} ${d.reason}: ${d.count}`),
  ]);
  return EXIT.ok;
}

async function riskSetPolicy({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('risk set-policy', args, 1);
  const engine = field('engine', EngineSchema, args[0]);
  const changes = {
    maxDailyLoss: optionalField('--max-daily-loss', cap(money), flags['max-daily-loss']),
    maxDailyExposure: optionalField('--max-daily-exposure', cap(money), flags['max-daily-exposure']),
    maxOpenRisk: optionalField('--max-open-risk', cap(money), flags['max-open-risk']),
    maxActionsPerDay: optionalField(
      '--max-actions-per-day',
      cap(z.coerce.number().int().nonnegative()),
      flags['max-actions-per-day'],
    ),
    enabled: optionalBool('--enabled', flags.enabled),
    exitsIgnoreLossCap: optionalBool('--exits-ignore-loss-cap', flags['exits-ignore-loss-cap']),
  };
  if (Object.values(changes).every((v) => v === undefined)) {
    throw new UsageError(
      'risk set-policy: give at least one of --max-daily-loss, --max-daily-exposure, --max-open-risk, --max-actions-per-day, --enabled, --exits-ignore-loss-cap',
    );
  }
  const current = (await ops.call('risk.policies', {})).find((p) => p.engine === engine);
  const base: RiskPolicy = current ?? {
    engine,
    maxDailyLoss: null,
    maxDailyExposure: null,
    maxOpenRisk: null,
    maxActionsPerDay: null,
    enabled: true,
  };
  const { paused: _held, ...next }: RiskPolicy = { ...base, ...givenChanges(changes) };
  const reason = flags.reason === undefined ? {} : { reason: field('--reason', ReasonSchema, flags.reason) };
  return printSubmitted(flags, await ops.call('risk.setPolicy', { policy: next, ...reason }));
}

/** `heimdall set DOMAIN`: prod use and thresholds, as a change request (off or stricter applies at once). */
async function heimdallSet({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('heimdall set', args, 1);
  const given = givenChanges({
    prodUseEnabled: optionalBool('--prod-use', flags['prod-use']),
    minConfidenceProd: optionalField('--min-confidence', z.coerce.number().min(0).max(1), flags['min-confidence']),
    minSandboxTrials: optionalField('--min-trials', z.coerce.number().int().nonnegative(), flags['min-trials']),
    minSandboxSuccessRate: optionalField(
      '--min-success-rate',
      z.coerce.number().min(0).max(1),
      flags['min-success-rate'],
    ),
    reason: optionalField('--reason', ReasonSchema, flags.reason),
  });
  if (Object.keys(given).filter((k) => k !== 'reason').length === 0)
    throw new UsageError(
      'heimdall set: give at least one of --prod-use, --min-confidence, --min-trials, --min-success-rate',
    );
  return printSubmitted(
    flags,
    await ops.call('heimdall.set', { domain: field('domain', DomainSchema, args[0]), ...given }),
  );
}

async function heimdallScorecard({ flags, ops }: Invocation): Promise<number> {
  const date = day(flags.date);
  const cards = await ops.call('heimdall.scorecards', { day: date });
  printJsonOr(flags, cards, () => [
    `Heimdall scorecards for ${date} (UTC)`,
    ...table(
      ['domain', 'prod_use', 'trials', 'success_rate', 'avg_confidence', 'needs'],
      cards.map((c) => [
        c.domain,
        c.policy.prodUseEnabled ? 'ON' : 'off',
        c.trials,
        c.successRate.toFixed(3),
        c.avgConfidence.toFixed(3),
        `≥${c.policy.minSandboxTrials} trials, ≥${c.policy.minSandboxSuccessRate} success, ≥${c.policy.minConfidenceProd} conf`,
      ]),
    ),
  ]);
  return EXIT.ok;
}

async function permits({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('permits', args, 0);
  const symbol = optionalField('--symbol', SymbolSchema, flags.symbol);
  const listing = await ops.call('permits.list', symbol ? { symbol } : {});
  printJsonOr(flags, listing, () => [
    'permits:',
    ...table(
      ['symbol', 'deal', 'status', 'issued_at', 'expires_at'],
      listing.permits.map((p) => [p.symbol, p.dealId, p.status, p.issuedAt, p.expiresAt]),
    ),
    '',
    'blocks:',
    ...table(
      ['symbol', 'deal', 'reason', 'at'],
      listing.blocks.map((b) => [b.symbol, b.dealId, b.reason, b.at]),
    ),
    '',
    `disarms: ${listing.disarms.length === 0 ? 'none' : listing.disarms.map((d) => `${d.at} ${d.reason} on ${d.symbol}`).join('; ')}`,
  ]);
  return EXIT.ok;
}

async function dealStart({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('deal start', args, 0);
  const input = {
    dealId: field('--deal-id', DealIdSchema, flags['deal-id']),
    engine: field('--engine', EngineSchema, flags.engine),
    symbol: field('--symbol', SymbolSchema, flags.symbol),
    amount: field('--amount', z.coerce.number().positive('must be greater than 0'), flags.amount),
    ...(flags.domain !== undefined ? { domain: field('--domain', DomainSchema, flags.domain) } : {}),
    ...(flags['recommendation-id'] !== undefined
      ? { recommendationId: field('--recommendation-id', z.uuid(), flags['recommendation-id']) }
      : {}),
    executionClass: field('--class', ExecutionClassSchema, flags.class ?? 'PROD_EXEC'),
    ...(flags.strategy !== undefined
      ? {
          strategyId: field(
            '--strategy',
            z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id'),
            flags.strategy,
          ),
        }
      : {}),
    ...(flags.side !== undefined ? { side: field('--side', z.enum(['buy', 'sell']), flags.side) } : {}),
    ...(flags.position !== undefined
      ? { position: field('--position', z.coerce.number().finite(), flags.position) }
      : {}),
  };
  const started = await ops.call('deal.start', input).catch((error: unknown) => {
    // A deal id is used once: naming one already started is the caller's mistake.
    if (error instanceof OperationFailed && error.code === 'already_started') throw new UsageError(error.message);
    throw error;
  });
  if (!flags.wait) {
    printJsonOr(flags, started, () => [`started deal ${input.dealId}: workflow ${started.workflowId}`]);
    return EXIT.ok;
  }
  // Asked again until it closes: a deal may wait on an approval longer than one request should.
  let answer = await ops.call('deal.result', { dealId: input.dealId });
  while (!answer.done) answer = await ops.call('deal.result', { dealId: input.dealId });
  const result = answer.result;
  printJsonOr(flags, result, () => [describeResult(result)]);
  return result.status === 'denied' || result.status === 'failed' ? EXIT.problem : EXIT.ok;
}

function describeResult(result: DealResult): string {
  switch (result.status) {
    case 'denied':
      return `deal ${result.dealId} DENIED at ${result.gate}: ${result.reason} (${result.detail})`;
    case 'failed':
      return `deal ${result.dealId} FAILED: ${result.error} (reservations released)`;
    case 'dry_run':
      return `deal ${result.dealId} passed every gate (dry_run: not executed)`;
    case 'shadow':
    case 'paper':
      return `deal ${result.dealId} recorded for strategy ${result.strategyId} (${result.status}: not executed)`;
    case 'needs_reconciliation':
      return `deal ${result.dealId} NEEDS RECONCILIATION: ${result.cause} (reservation held)`;
    case 'executed':
      return `deal ${result.dealId} executed (${result.applyMode}), realized loss ${result.realizedLoss}`;
  }
}

/** `warden deal reconcile ID --executed true|false --reason R`: the operator's word on an ambiguous deal. */
async function dealReconcile({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('deal reconcile', args, 1);
  const dealId = field('deal id', DealIdSchema, args[0]);
  const executed = optionalBool('--executed', flags.executed);
  if (executed === undefined) throw new UsageError('deal reconcile: give --executed true|false');
  const input = {
    executed,
    ...(flags['realized-loss'] !== undefined
      ? { realizedLoss: field('--realized-loss', money, flags['realized-loss']) }
      : {}),
    ...(flags['external-id'] !== undefined ? { externalId: flags['external-id'] } : {}),
    reason: field('--reason', ReasonSchema, flags.reason),
    ...(flags['workflow-id'] !== undefined ? { workflowId: flags['workflow-id'] } : {}),
  };
  const result = await ops.call('deal.reconcile', { dealId, ...input });
  // A release is a change request: it says who must approve it.
  if ('changeRequestId' in result) return printSubmitted(flags, result);
  printJsonOr(flags, result, () => [describeResult(result)]);
  return EXIT.ok;
}

/**
 * `warden deals reconcile`: every deal whose outcome is unknown, oldest first (age, what it holds, its
 * executor attempts); with a deal id, the operator's word on it, as `deal reconcile ID` takes it.
 */
async function dealsReconcile(inv: Invocation): Promise<number> {
  if (inv.args.length > 0) return dealReconcile(inv);
  const deals = await inv.ops.call('deals.unresolved', {});
  printJsonOr(inv.flags, deals, () =>
    deals.length === 0
      ? ['no deal waits for reconciliation']
      : [
          ...table(
            ['deal', 'engine', 'symbol', 'side', 'amount', 'reserved', 'age', 'attempts', 'cause'],
            deals.map((d) => [
              d.dealId,
              d.engine,
              d.symbol,
              d.side,
              d.amount,
              d.reserved,
              formatAge(d.ageSeconds),
              d.executorAttempts,
              d.cause,
            ]),
          ),
          'settle or release each: warden deals reconcile DEAL --executed true|false --reason R',
        ],
  );
  return EXIT.ok;
}

const formatAge = (seconds: number) =>
  seconds < 120 ? `${seconds}s` : seconds < 7200 ? `${Math.round(seconds / 60)}m` : `${(seconds / 3600).toFixed(1)}h`;

/**
 * `warden deals list [--outcome O] [--engine E] [--symbol S] [--strategy ID] [--gate G] [--running true|false]
 * [--limit N]`: one visibility query on Warden's search attributes; the query is printed for the Web UI's filter.
 */
async function dealsList({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('deals list', args, 0);
  const filter = DealListFilter.shape;
  const listed = await ops.call('deals.list', {
    outcome: optionalField('--outcome', filter.outcome, flags.outcome),
    engine: optionalField('--engine', filter.engine, flags.engine),
    symbol: optionalField('--symbol', filter.symbol, flags.symbol),
    strategy: optionalField('--strategy', filter.strategy, flags.strategy),
    gate: optionalField('--gate', filter.gate, flags.gate),
    running: optionalBool('--running', flags.running),
    limit: optionalField('--limit', filter.limit, flags.limit) ?? 50,
  });
  printJsonOr(flags, listed, () => [
    ...(listed.deals.length === 0
      ? ['no deal matches']
      : table(
          ['deal', 'status', 'engine', 'symbol', 'strategy', 'outcome', 'gate', 'stage', 'started'],
          listed.deals.map((d) => [
            d.dealId,
            d.status,
            d.engine ?? null,
            d.symbol ?? null,
            d.strategy ?? null,
            d.outcome ?? null,
            d.deniedGate ?? null,
            d.stage ?? null,
            d.startedAt,
          ]),
        )),
    `Web UI filter: ${listed.query}`,
  ]);
  return EXIT.ok;
}

/** `warden deals orphans`: what closed deal workflows still hold, and what the sweep does with it. */
async function dealsOrphans({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('deals orphans', args, 0);
  const orphans = await ops.call('deals.orphans', {});
  printJsonOr(flags, orphans, () =>
    orphans.length === 0
      ? ['no orphaned reservations or permits']
      : table(
          ['deal', 'workflow', 'status', 'stage', 'engine', 'amount', 'reservation', 'permits', 'action'],
          orphans.map((o) => [
            o.dealId,
            o.workflowId,
            o.workflow,
            o.stage,
            o.engine,
            o.amount,
            o.reservation,
            o.permits.map((p) => p.status).join(',') || null,
            o.action === 'flag' ? 'reconcile (may have executed)' : 'release (never executed)',
          ]),
        ),
  );
  return EXIT.ok;
}

export const dealCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  risk: sub('risk', { policies: riskPolicies, ledger: riskLedger, 'set-policy': riskSetPolicy }),
  heimdall: sub('heimdall', { scorecard: heimdallScorecard, set: heimdallSet }),
  permits,
  deal: sub('deal', { start: dealStart, reconcile: dealReconcile }),
  deals: sub('deals', { list: dealsList, orphans: dealsOrphans, reconcile: dealsReconcile }),
};
