import type {
  ClearEngineRestrictionInput,
  EngageKillSwitchInput,
  RefreshCapitalBandInput,
  RestrictEngineInput,
  SetApplyModeInput,
  SetGoLiveInput,
} from './types';

/**
 * The few control-plane calls an activity may make. Activities depend on this
 * port, never on `src/client`; the worker implements it with the WardenClient
 * (signal-with-start, so a call lands even when the control plane is not running).
 * The watchdogs' and gates' calls tighten (dry_run, kill switch, throttle or
 * pause) or only re-measure. The loosening ones (go-live on, apply mode towards
 * live, lifting a restriction) are made only by the applier of an approved
 * change request and carry its `changeRequestId`, which the control plane checks.
 */
export interface ControlPlanePort {
  setApplyMode(input: SetApplyModeInput): Promise<void>;
  engageKillSwitch(input: EngageKillSwitchInput): Promise<void>;
  refreshCapitalBand(input: RefreshCapitalBandInput): Promise<void>;
  /** Throttle or pause one engine: the control plane is the one writer of engine restrictions. */
  restrictEngine(input: RestrictEngineInput): Promise<void>;
  /** Go-live on or off; on only with an approved change request's `changeRequestId`. */
  setGoLive(input: SetGoLiveInput): Promise<void>;
  /** Lifts engine restrictions; only with an approved change request's `changeRequestId`. */
  clearEngineRestriction(input: ClearEngineRestrictionInput): Promise<void>;
}
