import type { EngageKillSwitchInput, RefreshCapitalBandInput, RestrictEngineInput, SetApplyModeInput } from './types';

/**
 * The few control-plane calls an activity may make. Activities depend on this
 * port, never on `src/client`; the worker implements it with the WardenClient
 * (signal-with-start, so a call lands even when the control plane is not running).
 * Every call here tightens (dry_run, kill switch, throttle or pause) or only
 * re-measures; lifting a restriction is an operator's change, never an activity's.
 */
export interface ControlPlanePort {
  setApplyMode(input: SetApplyModeInput): Promise<void>;
  engageKillSwitch(input: EngageKillSwitchInput): Promise<void>;
  refreshCapitalBand(input: RefreshCapitalBandInput): Promise<void>;
  /** Throttle or pause one engine: the control plane is the one writer of engine restrictions. */
  restrictEngine(input: RestrictEngineInput): Promise<void>;
}
