import type { WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { StrategyIdSchema } from '../../domain/change-requests/operational-changes';
import { DEAL_GATES, DEAL_OUTCOMES } from '../../domain/deals/types';
import { SymbolSchema } from '../../domain/permits/rules';
import { EngineSchema } from '../../domain/risk/rules';
import { DEAL_EXECUTION_WORKFLOW_TYPE } from '../../../workflows/names';
import {
  KEYWORD_ATTRIBUTES,
  queryValue,
  wardenAwaitingApprovalKey,
  wardenDeniedGateKey,
  wardenEngineKey,
  wardenOutcomeKey,
  wardenStrategyKey,
  wardenSymbolKey,
} from '../../../workflows/search-attributes';

/** What a listed workflow shows of itself through Warden's search attributes. */
export interface ShownAttributes {
  engine?: string;
  symbol?: string;
  strategy?: string;
  stage?: string;
  outcome?: string;
  deniedGate?: string;
  awaitingApproval: string[];
}

export function searchAttributesOf(info: WorkflowExecutionInfo): ShownAttributes {
  const sa = info.typedSearchAttributes;
  const shown: ShownAttributes = { awaitingApproval: sa.get(wardenAwaitingApprovalKey) ?? [] };
  for (const [field, key] of KEYWORD_ATTRIBUTES) {
    const value = sa.get(key);
    if (value !== undefined) shown[field] = value;
  }
  return shown;
}

/** Which deals to list, by their search attributes (each field left out matches any); as a query string or an operation's JSON. */
export const DealListFilter = z.strictObject({
  outcome: z.enum(DEAL_OUTCOMES).optional(),
  engine: EngineSchema.optional(),
  symbol: SymbolSchema.optional(),
  strategy: StrategyIdSchema.optional(),
  gate: z.enum(DEAL_GATES).optional(),
  running: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** The one visibility query `warden deals list` and `GET /deals` run; the same string works in the Web UI. */
export function dealListQuery(filter: Omit<z.output<typeof DealListFilter>, 'limit'>): string {
  const clauses = [`WorkflowType = ${queryValue(DEAL_EXECUTION_WORKFLOW_TYPE)}`];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) clauses.push(`${name} = ${queryValue(value)}`);
  };
  add(wardenOutcomeKey.name, filter.outcome);
  add(wardenEngineKey.name, filter.engine);
  add(wardenSymbolKey.name, filter.symbol);
  add(wardenStrategyKey.name, filter.strategy);
  add(wardenDeniedGateKey.name, filter.gate);
  // running true: still running; false: closed; left out: either.
  if (filter.running !== undefined) clauses.push(`ExecutionStatus ${filter.running ? '=' : '!='} 'Running'`);
  return clauses.join(' AND ');
}
