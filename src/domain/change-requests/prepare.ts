import { z } from 'zod';
import { describeIssues } from '../shared/validation';
import { type PolicyChange, PolicyChangeSchema, samePolicyValue } from './changes';
import { type ClassifiedChange, type ClassifyContext, classifyChange } from './classify';
import type { ProposedChange } from './request';

// From what a requester proposes to what a request holds: each change's
// `before` is what Warden stores (never the requester's word), changes that
// would leave the state as it is are dropped, and each is classified. Pure:
// the activity reads the stored values and records the result.

const isRestrictionId = (target: string) => /^[1-9][0-9]*$/.test(target);

/**
 * The `before` of a proposed change, from what is stored for its target. A
 * restriction placed is new (before null); one cleared by engine keeps the
 * requester's narrowing (which kind, from which source) on the stored engine.
 */
export function beforeOf(change: ProposedChange, stored: unknown): unknown {
  if (change.kind !== 'restriction') return stored;
  if (change.after !== null) return null;
  if (stored === null || isRestrictionId(change.target)) return stored;
  const narrowing = (change.before ?? {}) as { restriction?: unknown; source?: unknown };
  return {
    ...(stored as object),
    ...(narrowing.restriction !== undefined ? { restriction: narrowing.restriction } : {}),
    ...(narrowing.source !== undefined ? { source: narrowing.source } : {}),
  };
}

export type Prepared = { ok: true; changes: ClassifiedChange[] } | { ok: false; problem: string };

/**
 * Fills, checks and classifies proposed changes against what is stored (`stored[i]`
 * for `proposed[i]`). Refused when a change is malformed (the field is named,
 * as `changes.<i>.<field>`), names a target twice, or when nothing would change.
 */
export function prepareChanges(
  proposed: readonly ProposedChange[],
  stored: readonly unknown[],
  ctx: ClassifyContext,
): Prepared {
  const seen = new Set<string>();
  const changes: ClassifiedChange[] = [];
  for (const [i, p] of proposed.entries()) {
    const key = `${p.kind} ${p.target}`;
    if (seen.has(key)) return { ok: false, problem: `changes.${i}: a second change to ${key} in one request` };
    seen.add(key);
    const before = beforeOf(p, stored[i] ?? null);
    // A clear of what is not there, an add of what is: nothing to do.
    if (p.after === null && before === null) continue;
    const parsed = PolicyChangeSchema.safeParse({ kind: p.kind, target: p.target, before, after: p.after });
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ ...issue, path: ['changes', i, ...issue.path] }));
      return { ok: false, problem: describeIssues(new z.ZodError(issues)) };
    }
    const change: PolicyChange = parsed.data;
    if (samePolicyValue(change.before, change.after)) continue;
    changes.push({ ...change, ...classifyChange(change, ctx) });
  }
  if (changes.length === 0)
    return { ok: false, problem: 'changes: nothing to change, every change matches what is stored' };
  return { ok: true, changes };
}

/** The change as applied and audited: without its classification. */
export function policyChangeOf({ direction: _d, why: _w, ...change }: ClassifiedChange): PolicyChange {
  return change as PolicyChange;
}
