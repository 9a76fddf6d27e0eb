import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import {
  type WardenVisibility,
  wardenAwaitingApprovalKey,
  wardenDeniedGateKey,
  wardenEngineKey,
  wardenOutcomeKey,
  wardenStageKey,
  wardenStrategyKey,
  wardenSymbolKey,
} from '../search-attributes';

/** Since this patch every Warden workflow sets its search attributes; older histories never upserted. */
export const SEARCH_ATTRIBUTES_PATCH = 'warden-search-attributes';

/** The Web UI shows current details as Markdown; bounded so a long reason cannot bloat every task. */
const MAX_DETAILS = 2_000;

type Field = keyof WardenVisibility;
type Value = string | readonly string[] | null;

/**
 * What one workflow shows of itself in the Web UI and to visibility queries:
 * search attributes (one upsert per change, none when nothing changed, none in
 * histories from before the patch) and current details in words. Ask
 * `patched()` through `decide()` where the workflow's patches are decided.
 */
export class Visibility {
  private on: boolean | undefined;
  private readonly shown = new Map<Field, string>();

  /** Decides the patch now (once), for workflows that decide their patches up front. */
  decide(): this {
    this.on ??= patched(SEARCH_ATTRIBUTES_PATCH);
    return this;
  }

  /** Sets what changed; `details`, when given, becomes the workflow's current details. */
  show(values: WardenVisibility, details?: string): void {
    if (details !== undefined)
      setCurrentDetails(details.length > MAX_DETAILS ? `${details.slice(0, MAX_DETAILS)}…` : details);
    if (!this.decide().on) return;
    const pairs: SearchAttributeUpdatePair[] = [];
    for (const [field, value] of Object.entries(values) as [Field, Value | undefined][]) {
      if (value === undefined) continue;
      const cleared = value === null || (Array.isArray(value) && value.length === 0);
      const fingerprint = cleared ? '' : JSON.stringify(value);
      if ((this.shown.get(field) ?? '') === fingerprint) continue;
      this.shown.set(field, fingerprint);
      pairs.push(pairOf(field, cleared ? null : value));
    }
    if (pairs.length > 0) upsertSearchAttributes(pairs);
  }
}

function pairOf(field: Field, value: Value): SearchAttributeUpdatePair {
  const one = typeof value === 'string' ? value : null;
  switch (field) {
    case 'engine':
      return { key: wardenEngineKey, value: one };
    case 'symbol':
      return { key: wardenSymbolKey, value: one };
    case 'strategy':
      return { key: wardenStrategyKey, value: one };
    case 'stage':
      return { key: wardenStageKey, value: one };
    case 'outcome':
      return { key: wardenOutcomeKey, value: one };
    case 'deniedGate':
      return { key: wardenDeniedGateKey, value: one };
    case 'awaitingApproval':
      return { key: wardenAwaitingApprovalKey, value: typeof value === 'string' || value === null ? null : [...value] };
  }
}
