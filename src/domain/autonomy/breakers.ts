import { z } from 'zod';
import { safeText } from '../shared/validation';
import { type AutonomyMetrics, type CommandOutcome, computeMetrics } from './metrics';

export const BREAKER_ACTIONS = ['revert_to_l3', 'pause_command_type', 'alert_only'] as const;
export const BREAKER_METRICS = [
  'errorRate',
  'successRate',
  'rollbackRate',
  'approvalRate',
  'failures',
  'rollbacks',
  'criticalIncidents',
] as const;
type BreakerMetric = (typeof BREAKER_METRICS)[number];
const OPERATORS = ['>', '>=', '<', '<='] as const;

export interface BreakerCondition {
  metric: BreakerMetric;
  operator: (typeof OPERATORS)[number];
  threshold: number;
}

/** `errorRate > 0.05`, `failures >= 3`: a metric, an operator, a number. Anything else is refused with the reason. */
export function parseCondition(text: string): BreakerCondition | { error: string } {
  const match = /^\s*([A-Za-z]+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) return { error: `condition '${text}' is not "<metric> <op> <number>" (e.g. errorRate > 0.05)` };
  const [, metric, operator, number] = match as unknown as [string, string, BreakerCondition['operator'], string];
  if (!(BREAKER_METRICS as readonly string[]).includes(metric))
    return { error: `unknown metric '${metric}'; expected one of ${BREAKER_METRICS.join(', ')}` };
  return { metric: metric as BreakerMetric, operator, threshold: Number(number) };
}

export function parseWindow(text: string): number | { error: string } {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match) return { error: `window '${text}' is not a duration such as 5m or 1h` };
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
}

export const BreakerRuleSchema = z
  .strictObject({
    name: safeText({ max: 100 }),
    enabled: z.boolean(),
    condition: safeText({ max: 500 }),
    window: safeText({ max: 50 }),
    action: z.enum(BREAKER_ACTIONS),
    alertSeverity: z.enum(['low', 'medium', 'high', 'critical']),
  })
  .superRefine((rule, ctx) => {
    const condition = parseCondition(rule.condition);
    if ('error' in condition) ctx.addIssue({ code: 'custom', path: ['condition'], message: condition.error });
    const window = parseWindow(rule.window);
    if (typeof window !== 'number') ctx.addIssue({ code: 'custom', path: ['window'], message: window.error });
  });
export type BreakerRule = z.infer<typeof BreakerRuleSchema>;

function observe(metric: BreakerMetric, m: AutonomyMetrics, criticalIncidents: number): number | null {
  switch (metric) {
    case 'failures':
      return m.counts.failed;
    case 'rollbacks':
      return m.counts.rolled_back;
    case 'criticalIncidents':
      return criticalIncidents;
    default:
      return m[metric];
  }
}

function holds(c: BreakerCondition, value: number): boolean {
  return c.operator === '>'
    ? value > c.threshold
    : c.operator === '>='
      ? value >= c.threshold
      : c.operator === '<'
        ? value < c.threshold
        : value <= c.threshold;
}

export interface BreakerTrip {
  rule: string;
  action: BreakerRule['action'];
  alertSeverity: BreakerRule['alertSeverity'];
  commandType: string | null;
  observed: number;
  detail: string;
}

/**
 * Each enabled rule over its own window ending at `now`. A pause rule is
 * judged per command type (it pauses that type); the others over all commands.
 */
export function evaluateBreakers(
  rules: BreakerRule[],
  outcomes: CommandOutcome[],
  incidents: { severity: string; autonomous: boolean; at: Date }[],
  now: Date,
): BreakerTrip[] {
  const trips: BreakerTrip[] = [];
  for (const rule of rules.filter((r) => r.enabled)) {
    const condition = parseCondition(rule.condition);
    const window = parseWindow(rule.window);
    if ('error' in condition || typeof window !== 'number') continue;
    const since = now.getTime() - window;
    const inWindow = outcomes.filter((o) => o.at.getTime() > since && o.at.getTime() <= now.getTime());
    const critical = incidents.filter(
      (i) => i.severity === 'critical' && i.at.getTime() > since && i.at.getTime() <= now.getTime(),
    ).length;
    const scopes: [string | null, CommandOutcome[]][] =
      rule.action === 'pause_command_type'
        ? [...new Set(inWindow.map((o) => o.commandType))].map((t) => [t, inWindow.filter((o) => o.commandType === t)])
        : [[null, inWindow]];
    for (const [commandType, scoped] of scopes) {
      const value = observe(condition.metric, computeMetrics(scoped), critical);
      if (value === null || !holds(condition, value)) continue;
      trips.push({
        rule: rule.name,
        action: rule.action,
        alertSeverity: rule.alertSeverity,
        commandType,
        observed: value,
        detail: `${rule.condition} over ${rule.window}${commandType ? ` for ${commandType}` : ''}: observed ${Number.isInteger(value) ? value : value.toFixed(4)}`,
      });
    }
  }
  return trips;
}
