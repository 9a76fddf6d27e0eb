import type { GovernanceSettings } from './index';

/** What the go-live activities need from the governance settings. */
export type GoLiveSettings = Pick<GovernanceSettings, 'environment' | 'capitalBands' | 'canaryThreshold' | 'approvals'>;
