// The control plane's words every other part uses (apply modes, kill-switch modes, execution classes,
// who acts and why), apart from its changes' schemas (./types), so a deal's workflow evaluates these
// alone at each run and not every control-plane schema.
import { z } from 'zod';
import { safeText } from '../shared/validation';

export const APPLY_MODES = ['dry_run', 'testnet', 'live'] as const;
export const ApplyModeSchema = z.enum(APPLY_MODES);
export type ApplyMode = z.infer<typeof ApplyModeSchema>;

/**
 * How an engaged kill switch stops production execution: `halt` stops all of it; `reduce` lets through
 * only what reduces a position Warden keeps (NautilusTrader's REDUCING), so a halted book can still be
 * closed. Halt is the stricter: reduce → halt is a tightening (at once), halt → reduce a loosening (votes,
 * as for a release).
 */
export const KILL_SWITCH_MODES = ['halt', 'reduce'] as const;
export const KillSwitchModeSchema = z.enum(KILL_SWITCH_MODES, { message: 'expected halt or reduce' });
export type KillSwitchMode = z.infer<typeof KillSwitchModeSchema>;

/** The trading state the control plane is in: released, engaged in reduce mode, engaged in halt mode. */
export const TRADING_STATES = ['active', 'reducing', 'halted'] as const;
export type TradingState = (typeof TRADING_STATES)[number];

/** Seed 000 execution classes: what an action does when it runs. */
export const EXECUTION_CLASSES = ['OBSERVE_ONLY', 'SANDBOX_EXEC', 'PROD_EXEC'] as const;
export const ExecutionClassSchema = z.enum(EXECUTION_CLASSES);
export type ExecutionClass = z.infer<typeof ExecutionClassSchema>;

export const ActorSchema = safeText({ max: 200, minMessage: 'must name who acts' });
export const ReasonSchema = safeText({ max: 2000, minMessage: 'must say why' });
