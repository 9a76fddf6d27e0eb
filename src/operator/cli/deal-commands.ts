import { z } from 'zod';
import { ExecutionClassSchema } from '../../domain/control-plane/types';
import { DealIdSchema } from '../../domain/deals/types';
import { DomainSchema } from '../../domain/prod-eligibility/rules';
import { SymbolSchema } from '../../domain/permits/rules';
import { EngineSchema, type RiskPolicy, utcDay } from '../../domain/risk/rules';
import {
  actorOf,
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
  withData,
  withWarden,
} from './shared';

const DateSchema = z.iso.date('expected a date as YYYY-MM-DD');
const money = z.coerce.number().nonnegative('must be 0 or more').finite();
/** A cap as typed: a number, or `none` to lift it. */
const cap = (schema: z.ZodType<number>) => z.union([z.literal('none').transform(() => null), schema]);
const day = (date: string | undefined) => (date === undefined ? utcDay(new Date()) : field('--date', DateSchema, date));

async function riskPolicies({ config, flags }: Invocation): Promise<number> {
  return withData(config, async (data) => {
    const policies = await data.listRiskPolicies();
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
  });
}

async function riskLedger({ config, flags }: Invocation): Promise<number> {
  const date = day(flags.date);
  return withData(config, async (data) => {
    const report = await data.ledgerReport(date);
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
  });
}

async function riskSetPolicy({ config, flags, args }: Invocation): Promise<number> {
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
  };
  if (Object.values(changes).every((v) => v === undefined)) {
    throw new UsageError(
      'risk set-policy: give at least one of --max-daily-loss, --max-daily-exposure, --max-open-risk, --max-actions-per-day, --enabled',
    );
  }
  const actor = actorOf(flags);
  return withData(config, async (data) => {
    const current = (await data.listRiskPolicies()).find((p) => p.engine === engine);
    const base: RiskPolicy = current ?? {
      engine,
      maxDailyLoss: null,
      maxDailyExposure: null,
      maxOpenRisk: null,
      maxActionsPerDay: null,
      enabled: true,
    };
    const next: RiskPolicy = { ...base, ...givenChanges(changes) };
    await data.upsertRiskPolicy(next, actor);
    printJsonOr(flags, next, () => [
      `${current ? 'updated' : 'created'} risk policy ${engine}`,
      ...table(
        ['field', 'value'],
        Object.entries(next).map(([k, v]) => [k, v as string]),
      ),
    ]);
    return EXIT.ok;
  });
}

async function heimdallScorecard({ config, flags }: Invocation): Promise<number> {
  const date = day(flags.date);
  return withData(config, async (data) => {
    const cards = await data.listScorecards(date);
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
  });
}

async function permits({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('permits', args, 0);
  const symbol = optionalField('--symbol', SymbolSchema, flags.symbol);
  return withData(config, async (data) => {
    const listing = await data.listPermits(symbol ? { symbol } : {});
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
  });
}

async function dealStart({ config, flags, args }: Invocation): Promise<number> {
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
    requestedBy: actorOf(flags),
  };
  return withWarden(config, async (warden) => {
    const handle = await warden.startDeal(input);
    if (!flags.wait) {
      printJsonOr(flags, { workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, () => [
        `started deal ${input.dealId}: workflow ${handle.workflowId}`,
      ]);
      return EXIT.ok;
    }
    const result = await handle.result();
    printJsonOr(flags, result, () => [
      result.status === 'denied'
        ? `deal ${result.dealId} DENIED at ${result.gate}: ${result.reason} (${result.detail})`
        : result.status === 'failed'
          ? `deal ${result.dealId} FAILED: ${result.error} (reservations released)`
          : result.status === 'dry_run'
            ? `deal ${result.dealId} passed every gate (dry_run: not executed)`
            : result.status === 'shadow' || result.status === 'paper'
              ? `deal ${result.dealId} recorded for strategy ${result.strategyId} (${result.status}: not executed)`
              : `deal ${result.dealId} executed (${result.applyMode}), realized loss ${result.realizedLoss}`,
    ]);
    return result.status === 'denied' || result.status === 'failed' ? EXIT.problem : EXIT.ok;
  });
}

export const dealCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  risk: sub('risk', { policies: riskPolicies, ledger: riskLedger, 'set-policy': riskSetPolicy }),
  heimdall: sub('heimdall', { scorecard: heimdallScorecard }),
  permits,
  deal: sub('deal', { start: dealStart }),
};
