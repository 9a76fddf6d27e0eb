import {
  addReservation,
  checkPolicy,
  type LedgerDay,
  ledgerEngines,
  policyMissing,
  type ReserveKind,
  type RiskCheck,
  type RiskPolicy,
} from './rules';

/**
 * An engine's day is held in LEDGER_STRIPES rows, so concurrent reserves do not all queue on one row.
 * Each stripe holds a share of every cap; the shares of a day never sum past the cap and no stripe uses
 * more than its share, so a reserve that fits its home stripe's share fits the cap: it locks that one row.
 * One that does not fit (near exhaustion, or after a cap changed) locks every stripe in stripe order,
 * decides on the day's totals exactly as one row would, and shares the headroom left out again.
 */
export const LEDGER_STRIPES = 8;

/** A stripe of an engine's day: what it uses and its share of each cap (null: that cap is not set). */
export interface LedgerStripe extends LedgerDay {
  stripe: number;
  exposureShare: number | null;
  openRiskShare: number | null;
  actionsShare: number | null;
}

/** A key's home stripe (FNV-1a): the same in every process and every run. */
export function stripeOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % LEDGER_STRIPES;
}

const cents = (amount: number) => Math.round(amount * 100);

/**
 * Whether a reserve may try its home stripe alone: its policy admits engines now, its loss limit is not
 * reached (the day's loss, summed), and it asks for something. Anything else is decided on the totals,
 * so a denial always gives seed 000's reason in seed 000's order.
 */
export function mayTakeHomeStripe(policy: RiskPolicy, dayLoss: number, amount: number): boolean {
  if (!policy.enabled || policy.paused || cents(amount) <= 0) return false;
  return policy.maxDailyLoss === null || cents(dayLoss) < cents(policy.maxDailyLoss);
}

/**
 * The refusal a reserve gets on the day's totals as one statement read them (every engine of it in
 * order, GLOBAL first), or undefined when they admit it. Refused there, it is refused at once and locks
 * no stripe: the reading is a committed state of the day, and a reserve decided on it is decided as if it
 * ran at that moment, as one row would have decided it. Only a reserve the totals admit goes on to take
 * a stripe (and near exhaustion, every stripe in order).
 */
export function refusalOnTotals(
  readings: readonly { engine: string; policy: RiskPolicy | undefined; totals: LedgerDay }[],
  amount: number,
  kind: ReserveKind = {},
): RiskCheck | undefined {
  for (const { engine, policy, totals } of readings) {
    const check = policy === undefined ? policyMissing(engine) : checkPolicy(policy, totals, amount, kind);
    if (!check.ok) return check;
  }
  return undefined;
}

/** The day's totals over its stripes: what one ledger row held before. */
export function ledgerTotals(stripes: readonly LedgerDay[]): LedgerDay {
  let exposure = 0;
  let open = 0;
  let loss = 0;
  let actions = 0;
  for (const s of stripes) {
    exposure += cents(s.exposureUsed);
    open += cents(s.openRiskReserved);
    loss += cents(s.realizedLoss);
    actions += s.actions;
  }
  return { exposureUsed: exposure / 100, openRiskReserved: open / 100, realizedLoss: loss / 100, actions };
}

/**
 * Seed 000's check on the day's totals (every stripe locked); when it passes, the reserve goes on the
 * home stripe and every cap's headroom is shared out again.
 */
export function reserveOnTotals(
  policy: RiskPolicy,
  stripes: readonly LedgerStripe[],
  home: number,
  amount: number,
  kind: ReserveKind = {},
): { check: RiskCheck; stripes: LedgerStripe[] } {
  const check = checkPolicy(policy, ledgerTotals(stripes), amount, kind);
  if (!check.ok) return { check, stripes: [...stripes] };
  const after = stripes.map((s) => (s.stripe === home ? { ...s, ...addReservation(s, amount, kind) } : s));
  return { check, stripes: shareOut(policy, after) };
}

/** An engine's day as a group of reserves locks it: its policy (paused or not) and every stripe. */
export interface LockedLedger {
  policy: RiskPolicy | undefined;
  stripes: LedgerStripe[];
}

/**
 * Reserves decided one after another on days whose every stripe is locked, as one row would decide them
 * in that order: each on the day's totals of every engine it books against (GLOBAL first), booked on its
 * home stripe of all of them when all admit it, the headroom shared out again. Each reserve's check, and
 * the stripes of the engines that moved.
 */
export function reserveInOrder(
  ledgers: ReadonlyMap<string, LockedLedger>,
  requests: readonly { key: string; engine: string; amount: number }[],
): { checks: RiskCheck[]; moved: Map<string, LedgerStripe[]> } {
  const moved = new Map<string, LedgerStripe[]>();
  const stripesOf = (engine: string) => moved.get(engine) ?? ledgers.get(engine)?.stripes ?? [];
  const checks = requests.map(({ key, engine, amount }): RiskCheck => {
    const after = new Map<string, LedgerStripe[]>();
    for (const ledger of ledgerEngines(engine)) {
      const policy = ledgers.get(ledger)?.policy;
      if (policy === undefined) return policyMissing(ledger);
      const reserved = reserveOnTotals(policy, stripesOf(ledger), stripeOf(key), amount);
      if (!reserved.check.ok) return reserved.check;
      after.set(ledger, reserved.stripes);
    }
    for (const [ledger, stripes] of after) moved.set(ledger, stripes);
    return { ok: true };
  });
  return { checks, moved };
}

/**
 * Every stripe keeps what it uses plus an even part (in cents; actions whole) of what the cap leaves:
 * the shares sum to the cap, or to what is used when a lowered cap is already passed (then no stripe
 * has room, and every reserve is decided on the totals).
 */
export function shareOut(
  policy: Pick<RiskPolicy, 'maxDailyExposure' | 'maxOpenRisk' | 'maxActionsPerDay'>,
  stripes: readonly LedgerStripe[],
): LedgerStripe[] {
  const exposure = split(
    policy.maxDailyExposure === null ? null : cents(policy.maxDailyExposure),
    stripes.map((s) => cents(s.exposureUsed)),
  );
  const open = split(
    policy.maxOpenRisk === null ? null : cents(policy.maxOpenRisk),
    stripes.map((s) => cents(s.openRiskReserved)),
  );
  const actions = split(
    policy.maxActionsPerDay,
    stripes.map((s) => s.actions),
  );
  return stripes.map((s, i) => ({
    ...s,
    exposureShare: exposure === null ? null : exposure[i]! / 100,
    openRiskShare: open === null ? null : open[i]! / 100,
    actionsShare: actions === null ? null : actions[i]!,
  }));
}

function split(cap: number | null, used: number[]): number[] | null {
  if (cap === null) return null;
  const headroom = Math.max(0, cap - used.reduce((a, b) => a + b, 0));
  const each = Math.floor(headroom / used.length);
  const extra = headroom - each * used.length;
  return used.map((u, i) => u + each + (i < extra ? 1 : 0));
}
