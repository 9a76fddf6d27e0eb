// Separation of duties (invariant 8): whoever asked for something that adds
// risk, or did the work being vouched for, never approves it. One rule for
// every approval path, pure so workflows, activities and the rules all use it.

/** One person who may not approve, and why (e.g. "requested this command"). */
export interface Excluded {
  actor: string;
  as: string;
}

/**
 * Names compared as people would read them: case, surrounding blanks and
 * compatibility forms (full-width letters, ligatures) do not make a second person.
 */
export function sameIdentity(a: string, b: string): boolean {
  const canonical = (name: string) => name.normalize('NFKC').trim().toLowerCase();
  return canonical(a) === canonical(b);
}

export type SeparationCheck = { ok: true } | { ok: false; problem: string };

/** Whether `approver` may approve, given who is excluded; the problem names the field and the person. */
export function checkSeparation(approver: string, excluded: readonly Excluded[]): SeparationCheck {
  const hit = excluded.find((e) => sameIdentity(e.actor, approver));
  if (hit === undefined) return { ok: true };
  return {
    ok: false,
    problem: `actor: ${approver} ${hit.as}; approval must come from someone else (separation of duties)`,
  };
}
