// A week's worth of recorded gate inputs, small enough to replay by hand (see replay.test.ts for the sums).
import { APPROVER_ROLES } from '../../../src/domain/autonomy/phases';
import type { PolicyDocument } from '../../../src/domain/change-requests/changes';
import type {
  RecordedCommand,
  RecordedDeal,
  RecordedGateInputs,
} from '../../../src/domain/change-requests/replay-inputs';

const noApprovers = Object.fromEntries(APPROVER_ROLES.map((r) => [r, [] as string[]])) as PolicyDocument['approvers'];

/** GLOBAL 1000 a day; WHOLESALE 300 a day, a loss limit of 50 and 3 actions; OFFERS prod use off; testnet. */
export const current: PolicyDocument = {
  version: 1,
  risk: {
    GLOBAL: { maxDailyLoss: null, maxDailyExposure: 1000, maxOpenRisk: null, maxActionsPerDay: null, enabled: true },
    WHOLESALE: { maxDailyLoss: 50, maxDailyExposure: 300, maxOpenRisk: null, maxActionsPerDay: 3, enabled: true },
  },
  tripwires: {},
  breakers: {},
  heimdall: {
    OFFERS: { minConfidenceProd: 0.7, minSandboxTrials: 2, minSandboxSuccessRate: 0.5, prodUseEnabled: false },
  },
  strategies: {},
  engines: { WHOLESALE: { executionClass: 'SANDBOX_EXEC', strategyRequired: false, recommendationRequired: false } },
  commandTypes: { DEPLOY: { executionClass: 'OBSERVE_ONLY' } },
  approvers: { ...noApprovers, tech_lead: ['alice', 'bob'] },
  controlPlane: { goLive: true, applyMode: 'testnet' },
};

/** WHOLESALE's exposure cap raised to 500, OFFERS prod use on, DEPLOY to SANDBOX_EXEC, bob off the allowlist. */
export const proposed: PolicyDocument = {
  ...current,
  risk: { ...current.risk, WHOLESALE: { ...current.risk.WHOLESALE!, maxDailyExposure: 500 } },
  heimdall: { OFFERS: { ...current.heimdall.OFFERS!, prodUseEnabled: true } },
  commandTypes: { DEPLOY: { executionClass: 'SANDBOX_EXEC' } },
  approvers: { ...current.approvers, tech_lead: ['alice'] },
};

export const REC = '00000000-0000-4000-8000-000000000001';

const deal = (dealId: string, at: string, amount: number, over: Partial<RecordedDeal> = {}): RecordedDeal => ({
  dealId,
  at,
  engine: 'WHOLESALE',
  amount,
  admission: {
    requestedClass: 'PROD_EXEC',
    strategyId: undefined,
    recommendationId: undefined,
    executorTaskQueue: undefined,
    ownTaskQueue: 'warden',
    executorServed: true,
  },
  killSwitchEngaged: false,
  pausedEngines: [],
  ...over,
});
const withRec = (trials: number, successes: number, day: string): Partial<RecordedDeal> => ({
  recommendation: { domain: 'OFFERS', confidence: 0.9 },
  scorecard: { domain: 'OFFERS', day, trials, successes, successRate: successes / trials, avgConfidence: 0.9 },
});

export const deals: RecordedDeal[] = [
  deal('d1', '2026-11-30T09:00:00.000Z', 200, {
    executor: { settled: { at: '2026-11-30T09:05:00.000Z', realizedLoss: 10 } },
  }),
  deal('d2', '2026-11-30T10:00:00.000Z', 150, {
    admission: { ...deal('x', '', 0).admission, recommendationId: REC },
    ...withRec(3, 3, '2026-11-30'),
  }),
  deal('d3', '2026-11-30T11:00:00.000Z', 100, {
    executor: { settled: { at: '2026-11-30T11:05:00.000Z', realizedLoss: 0 } },
  }),
  deal('d4', '2026-11-30T12:00:00.000Z', 40),
  deal('d5', '2026-12-01T09:00:00.000Z', 100, {
    admission: { ...deal('x', '', 0).admission, recommendationId: REC },
    ...withRec(1, 1, '2026-12-01'),
  }),
  deal('d6', '2026-12-01T10:00:00.000Z', 10, { strategy: { denied: 'strategy_paused' } }),
];

const command = (commandId: string, commandType: string, over: Partial<RecordedCommand> = {}): RecordedCommand => ({
  commandId,
  commandType,
  at: '2026-11-30T13:00:00.000Z',
  killSwitchEngaged: false,
  executorAvailable: true,
  pausedType: false,
  autonomous: true,
  ...over,
});

export const commands: RecordedCommand[] = [
  command('c1', 'DEPLOY'),
  command('c2', 'RESTART', { autonomous: false, decision: { approved: true, approver: 'bob', role: 'tech_lead' } }),
  command('c3', 'RESTART', { killSwitchEngaged: true }),
];

export const inputs: RecordedGateInputs = {
  from: '2026-11-25T00:00:00.000Z',
  to: '2026-12-01T23:59:59.999Z',
  deals,
  commands,
};
