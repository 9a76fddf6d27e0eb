import type { EngageKillSwitchInput, RefreshCapitalBandInput, SetApplyModeInput } from './types';

/**
 * The few control-plane calls an activity may make. Activities depend on this
 * port, never on `src/client`; the worker implements it with the WardenClient
 * (signal-with-start, so a call lands even when the control plane is not running).
 * Every call here tightens (dry_run, kill switch) or only re-measures.
 */
export interface ControlPlanePort {
  setApplyMode(input: SetApplyModeInput): Promise<void>;
  engageKillSwitch(input: EngageKillSwitchInput): Promise<void>;
  refreshCapitalBand(input: RefreshCapitalBandInput): Promise<void>;
}
