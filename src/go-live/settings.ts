import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../capital/bands';
import type { Config } from '../config';

/** What the go-live activities need from the configuration. */
export interface GoLiveSettings {
  /** Written on each playbook row; signed approval tokens must be issued for it. */
  environment: string;
  capitalBands: CapitalBandThresholds;
  canaryThreshold: number;
  approvals: { signed: boolean; signingKey: string | undefined };
}

export const DEFAULT_GO_LIVE_SETTINGS: GoLiveSettings = {
  environment: 'dev',
  capitalBands: DEFAULT_CAPITAL_BANDS,
  canaryThreshold: 3,
  approvals: { signed: false, signingKey: undefined },
};

export function goLiveSettings(config: Config): GoLiveSettings {
  return {
    environment: config.environment,
    capitalBands: config.capitalBands,
    canaryThreshold: config.watchdogs.canaryThreshold,
    approvals: { signed: config.approvals.signed, signingKey: config.approvals.signingKey },
  };
}
