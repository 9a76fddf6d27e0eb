import { z } from 'zod';

export const GLOBAL_ENGINE = 'GLOBAL';

/** The engines a reserve on `engine` books against, GLOBAL first (dual control, and the lock order). */
export function ledgerEngines(engine: string): string[] {
  return engine === GLOBAL_ENGINE ? [GLOBAL_ENGINE] : [GLOBAL_ENGINE, engine];
}

export const EngineSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected an engine name in capitals, e.g. WHOLESALE');

export interface RiskPolicy {
  engine: string;
  maxDailyLoss: number | null;
  maxDailyExposure: number | null;
  maxOpenRisk: number | null;
  maxActionsPerDay: number | null;
  enabled: boolean;
  /** Paused by a tripwire or an operator: new reserves are refused, settles go on. */
  paused?: boolean;
  /** Exits (reserves that reduce a position) pass a reached daily-loss cap; off unless approved on. */
  exitsIgnoreLossCap?: boolean;
}

/** A reserve that reduces a position (src/domain/deals/exits.ts): open risk yes, daily exposure no. */
export interface ReserveKind {
  exit?: boolean;
}

export interface LedgerDay {
  exposureUsed: number;
  openRiskReserved: number;
  realizedLoss: number;
  actions: number;
}

export const EMPTY_LEDGER: LedgerDay = { exposureUsed: 0, openRiskReserved: 0, realizedLoss: 0, actions: 0 };

export type RiskDenialReason =
  | 'policy_missing'
  | 'policy_disabled'
  | 'engine_paused'
  | 'daily_exposure_exceeded'
  | 'daily_loss_limit_reached'
  | 'open_risk_exceeded'
  | 'daily_action_limit_reached';

export type RiskCheck = { ok: true } | { ok: false; scope: string; reason: RiskDenialReason; detail: string };

// Money compared in whole cents, so 0.1 + 0.2 never trips a 0.30 cap.
const cents = (amount: number) => Math.round(amount * 100);

/**
 * One policy against its ledger, in seed 000's order: exposure, loss, open risk, then actions. An exit
 * takes no daily exposure (it lowers what is at risk), and passes the loss cap where the engine says so.
 */
export function checkPolicy(
  policy: RiskPolicy,
  ledger: LedgerDay,
  amount: number,
  { exit = false }: ReserveKind = {},
): RiskCheck {
  const deny = (reason: RiskDenialReason, detail: string): RiskCheck => ({
    ok: false,
    scope: policy.engine,
    reason,
    detail,
  });
  if (!policy.enabled) return deny('policy_disabled', `${policy.engine} policy is disabled`);
  if (policy.paused) return deny('engine_paused', `${policy.engine} is paused until an operator lifts it`);
  if (
    !exit &&
    policy.maxDailyExposure !== null &&
    cents(ledger.exposureUsed) + cents(amount) > cents(policy.maxDailyExposure)
  ) {
    return deny(
      'daily_exposure_exceeded',
      `${policy.engine}: exposure ${ledger.exposureUsed} + ${amount} > ${policy.maxDailyExposure}`,
    );
  }
  const lossCapped = !(exit && policy.exitsIgnoreLossCap === true);
  if (lossCapped && policy.maxDailyLoss !== null && cents(ledger.realizedLoss) >= cents(policy.maxDailyLoss)) {
    return deny(
      'daily_loss_limit_reached',
      `${policy.engine}: realized loss ${ledger.realizedLoss} >= ${policy.maxDailyLoss}`,
    );
  }
  if (policy.maxOpenRisk !== null && cents(ledger.openRiskReserved) + cents(amount) > cents(policy.maxOpenRisk)) {
    return deny(
      'open_risk_exceeded',
      `${policy.engine}: open risk ${ledger.openRiskReserved} + ${amount} > ${policy.maxOpenRisk}`,
    );
  }
  if (policy.maxActionsPerDay !== null && ledger.actions + 1 > policy.maxActionsPerDay) {
    return deny(
      'daily_action_limit_reached',
      `${policy.engine}: ${ledger.actions} actions today, max ${policy.maxActionsPerDay}`,
    );
  }
  return { ok: true };
}

/**
 * Dual control: GLOBAL first (it stops every engine), then the engine's own
 * policy; both must pass. The GLOBAL ledger sums every engine's day.
 */
export function decideReserve(
  input: { engine: string; amount: number },
  policies: { global: RiskPolicy | undefined; engine: RiskPolicy | undefined },
  ledgers: { global: LedgerDay; engine: LedgerDay },
): RiskCheck {
  if (!policies.global) return policyMissing(GLOBAL_ENGINE);
  const global = checkPolicy(policies.global, ledgers.global, input.amount);
  if (!global.ok || input.engine === GLOBAL_ENGINE) return global;
  if (!policies.engine) return policyMissing(input.engine);
  return checkPolicy(policies.engine, ledgers.engine, input.amount);
}

/** The denial of a reserve on an engine without a policy: nothing is allowed that no policy caps. */
export function policyMissing(engine: string): RiskCheck {
  return {
    ok: false,
    scope: engine,
    reason: 'policy_missing',
    detail: engine === GLOBAL_ENGINE ? 'no GLOBAL risk policy' : `no risk policy for engine ${engine}`,
  };
}

export function addReservation(ledger: LedgerDay, amount: number, { exit = false }: ReserveKind = {}): LedgerDay {
  return {
    ...ledger,
    exposureUsed: exit ? ledger.exposureUsed : (cents(ledger.exposureUsed) + cents(amount)) / 100,
    openRiskReserved: (cents(ledger.openRiskReserved) + cents(amount)) / 100,
    actions: ledger.actions + 1,
  };
}

/** The UTC day a ledger entry belongs to: ledgers reset at UTC midnight. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
