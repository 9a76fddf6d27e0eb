// Message definitions, declared once: workflows set handlers on them and the
// client and CLI send them. Names and JSON fields are a public interface.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  ControlPlaneView,
  EngageKillSwitchInput,
  ReleaseKillSwitchInput,
  SetApplyModeInput,
  SetGoLiveInput,
} from '../src/control-plane/types';
import type { DealProgress } from '../src/deals/types';

// Control-plane changes are signals, not updates: watchdogs and operators
// fire them from anywhere (including `temporal workflow signal`) and must not
// block on the database; the `state` query shows a change once persisted.
export const setGoLiveSignal = defineSignal<[SetGoLiveInput]>('setGoLive');
export const engageKillSwitchSignal = defineSignal<[EngageKillSwitchInput]>('engageKillSwitch');
export const releaseKillSwitchSignal = defineSignal<[ReleaseKillSwitchInput]>('releaseKillSwitch');
export const setApplyModeSignal = defineSignal<[SetApplyModeInput]>('setApplyMode');
export const controlPlaneStateQuery = defineQuery<ControlPlaneView>('state');

export const dealProgressQuery = defineQuery<DealProgress>('progress');
