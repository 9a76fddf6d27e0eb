// Warden's custom search attributes, declared once: the workflows set them, the
// dev server, docker-compose's set-up and the worker's start-up check register
// or verify them, and the CLI, the review and the API query by them. Their names
// are public: operators type them into the Web UI's filter and `temporal workflow
// list --query`. Free of workflow code, so clients import it as is.
import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';

/** The attributes, name → type. Keywords: exact match, as a filter wants. */
export const WARDEN_SEARCH_ATTRIBUTES = {
  WardenEngine: SearchAttributeType.KEYWORD,
  WardenSymbol: SearchAttributeType.KEYWORD,
  WardenStrategy: SearchAttributeType.KEYWORD,
  WardenStage: SearchAttributeType.KEYWORD,
  WardenOutcome: SearchAttributeType.KEYWORD,
  WardenDeniedGate: SearchAttributeType.KEYWORD,
  WardenAwaitingApproval: SearchAttributeType.KEYWORD_LIST,
} as const;

export type WardenSearchAttributeName = keyof typeof WARDEN_SEARCH_ATTRIBUTES;

export const wardenEngineKey = defineSearchAttributeKey('WardenEngine', SearchAttributeType.KEYWORD);
export const wardenSymbolKey = defineSearchAttributeKey('WardenSymbol', SearchAttributeType.KEYWORD);
export const wardenStrategyKey = defineSearchAttributeKey('WardenStrategy', SearchAttributeType.KEYWORD);
export const wardenStageKey = defineSearchAttributeKey('WardenStage', SearchAttributeType.KEYWORD);
export const wardenOutcomeKey = defineSearchAttributeKey('WardenOutcome', SearchAttributeType.KEYWORD);
export const wardenDeniedGateKey = defineSearchAttributeKey('WardenDeniedGate', SearchAttributeType.KEYWORD);
export const wardenAwaitingApprovalKey = defineSearchAttributeKey(
  'WardenAwaitingApproval',
  SearchAttributeType.KEYWORD_LIST,
);

/** What a workflow shows of itself; a field left out is left as it was, `null` clears it. */
export interface WardenVisibility {
  engine?: string | null;
  symbol?: string | null;
  strategy?: string | null;
  /** Where the workflow is: a deal's gate, a command's or a proposal's stage. */
  stage?: string | null;
  /** How it ended: executed, denied, failed, needs_reconciliation, applied, rejected, expired, … */
  outcome?: string | null;
  deniedGate?: string | null;
  /** The roles whose approval it waits for; empty or null when it waits for nobody. */
  awaitingApproval?: readonly string[] | null;
}

/** The keyword attributes by the field of WardenVisibility that sets them (WardenAwaitingApproval is a list, apart). */
export const KEYWORD_ATTRIBUTES = [
  ['engine', wardenEngineKey],
  ['symbol', wardenSymbolKey],
  ['strategy', wardenStrategyKey],
  ['stage', wardenStageKey],
  ['outcome', wardenOutcomeKey],
  ['deniedGate', wardenDeniedGateKey],
] as const satisfies readonly (readonly [keyof WardenVisibility, typeof wardenEngineKey])[];

/**
 * What a deal shows from its start: given with the start request by Warden's clients, so the deal's
 * workflow (which sets the same values itself when started raw) has nothing to upsert.
 */
export function dealStartAttributes(deal: {
  engine: string;
  symbol: string;
  strategyId?: string | undefined;
}): SearchAttributePair[] {
  return [
    { key: wardenEngineKey, value: deal.engine },
    { key: wardenSymbolKey, value: deal.symbol },
    ...(deal.strategyId !== undefined ? [{ key: wardenStrategyKey, value: deal.strategyId }] : []),
    { key: wardenStageKey, value: 'admission' },
  ];
}

/** A value quoted for a visibility query: backslashes and quotes escaped, so a name cannot close the string. */
export function queryValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
