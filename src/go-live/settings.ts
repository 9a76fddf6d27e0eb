import type { GovernanceSettings } from '../config';

/** What the go-live activities need from the governance settings. */
export type GoLiveSettings = Pick<GovernanceSettings, 'environment' | 'capitalBands' | 'canaryThreshold' | 'approvals'>;
