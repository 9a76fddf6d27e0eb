import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Patches } from './patches';
import { KEYWORD_ATTRIBUTES, type WardenVisibility, wardenAwaitingApprovalKey } from '../search-attributes';

/**
 * Since this patch every Warden workflow sets its search attributes, and what waits for approval is
 * audited as waiting (so operators are notified); older histories did neither. One patch for both: each
 * patch costs a deal a marker and a TemporalChangeVersion upsert, which the SDK adds to every patch.
 */
export const SEARCH_ATTRIBUTES_PATCH = 'warden-search-attributes';

/** The Web UI shows current details as Markdown; bounded so a long reason cannot bloat every task. */
const MAX_DETAILS = 2_000;

type Field = keyof WardenVisibility;

/**
 * What one workflow shows of itself in the Web UI and to visibility queries:
 * search attributes (one upsert per change, none when nothing changed, none in
 * histories from before the patch) and current details in words. Ask
 * `patched()` through `decide()` where the workflow's patches are decided.
 */
export class Visibility {
  private on: boolean | undefined;
  /** What each attribute holds now, as JSON ('' when unset): an upsert only for what changes. */
  private readonly shown = new Map<Field, string>();

  constructor() {
    // What the start (or the run this one continued) already set is not set again.
    const current = workflowInfo().typedSearchAttributes;
    for (const [field, key] of KEYWORD_ATTRIBUTES) {
      const value = current.get(key);
      if (value !== undefined) this.shown.set(field, JSON.stringify(value));
    }
    const awaiting = current.get(wardenAwaitingApprovalKey);
    if (awaiting !== undefined && awaiting.length > 0) this.shown.set('awaitingApproval', JSON.stringify(awaiting));
  }

  /** Decides the patch now (once), for workflows that decide their patches up front (through theirs, if given). */
  decide(patches?: Patches): this {
    this.on ??= patches ? patches.has(SEARCH_ATTRIBUTES_PATCH) : patched(SEARCH_ATTRIBUTES_PATCH);
    return this;
  }

  /** Whether this history is from since the patch: what waits for approval is then announced too. */
  get announces(): boolean {
    return this.decide().on === true;
  }

  /** Sets what changed; `details`, when given, becomes the workflow's current details. */
  show(values: WardenVisibility, details?: string): void {
    if (details !== undefined)
      setCurrentDetails(details.length > MAX_DETAILS ? `${details.slice(0, MAX_DETAILS)}…` : details);
    if (!this.decide().on) return;
    const pairs: SearchAttributeUpdatePair[] = [];
    const changed = (field: Field, value: unknown): boolean => {
      const fingerprint = value === null ? '' : JSON.stringify(value);
      if ((this.shown.get(field) ?? '') === fingerprint) return false;
      this.shown.set(field, fingerprint);
      return true;
    };
    for (const [field, key] of KEYWORD_ATTRIBUTES) {
      const value = values[field];
      if (value !== undefined && changed(field, value)) pairs.push({ key, value });
    }
    if (values.awaitingApproval !== undefined) {
      const roles = values.awaitingApproval === null ? [] : [...values.awaitingApproval];
      if (changed('awaitingApproval', roles.length > 0 ? roles : null))
        pairs.push({ key: wardenAwaitingApprovalKey, value: roles.length > 0 ? roles : null });
    }
    if (pairs.length > 0) upsertSearchAttributes(pairs);
  }
}
