import { describe, expect, it } from 'vitest';
import { replayCommand, replayDeals, replayPolicies } from '../../../src/domain/change-requests/replay';
import { commands, current, deals, inputs, proposed } from './replay-fixture';

// The sums, by hand (WHOLESALE's day ledger: exposure used / actions):
// current (cap 300): d1 200 ok (settles at 09:05, loss 10) → 200/1; d2 150: 350 > 300 denied;
//   d3 100: 300 ok → 300/2; d4 40: 340 > 300 denied. Next day d5 100 ok, prod use off → denied.
// proposed (cap 500, prod use on): d1 ok → 200/1; d2 150: 350 ok, OFFERS passes (3 trials, all good),
//   never executed before, so it stays held → 350/2; d3 100: 450 ok → 450/3; d4 40: 490 ok but a 4th
//   action > 3 → denied daily_action_limit_reached. d5: prod use on, 1 trial < 2 → insufficient trials.
// d6 is the strategy gate's (not replayed) both times. Commands: c1 DEPLOY OBSERVE_ONLY → SANDBOX_EXEC
//   runs in testnet instead of dry_run; c2 was approved by bob, off the allowlist now; c3 kill switch both times.
describe('the replay of recorded gate inputs', () => {
  it('deals: the risk guard on a running day ledger, then prod eligibility, under each document', () => {
    expect(Object.fromEntries(replayDeals(deals, current))).toEqual({
      d1: { result: 'testnet' },
      d2: { gate: 'risk', reason: 'daily_exposure_exceeded' },
      d3: { result: 'testnet' },
      d4: { gate: 'risk', reason: 'daily_exposure_exceeded' },
      d5: { gate: 'prod_eligibility', reason: 'prod_use_disabled' },
      d6: { gate: 'strategy', reason: 'strategy_paused' },
    });
    expect(Object.fromEntries(replayDeals(deals, proposed))).toEqual({
      d1: { result: 'testnet' },
      d2: { result: 'testnet' },
      d3: { result: 'testnet' },
      d4: { gate: 'risk', reason: 'daily_action_limit_reached' },
      d5: { gate: 'prod_eligibility', reason: 'insufficient_sandbox_trials' },
      d6: { gate: 'strategy', reason: 'strategy_paused' },
    });
  });

  it('commands: the command type class, the control plane and the approver allowlist', () => {
    expect(commands.map((c) => replayCommand(c, current))).toEqual([
      { result: 'dry_run' },
      { result: 'testnet' },
      { gate: 'control_plane', reason: 'kill_switch_engaged' },
    ]);
    expect(commands.map((c) => replayCommand(c, proposed))).toEqual([
      { result: 'testnet' },
      { gate: 'approval', reason: 'approver_not_allowed' },
      { gate: 'control_plane', reason: 'kill_switch_engaged' },
    ]);
  });

  it('counts, by gate and reason, the deals and commands that would end differently', () => {
    expect(replayPolicies(inputs, current, proposed)).toEqual({
      from: inputs.from,
      to: inputs.to,
      replayed: { deals: 6, commands: 3 },
      changed: { deals: 3, commands: 2 },
      counts: [
        { subject: 'command', gate: 'approval', reason: 'approver_not_allowed', wouldNowDeny: 1, wouldNowAllow: 0 },
        {
          subject: 'deal',
          gate: 'prod_eligibility',
          reason: 'insufficient_sandbox_trials',
          wouldNowDeny: 1,
          wouldNowAllow: 0,
        },
        { subject: 'deal', gate: 'prod_eligibility', reason: 'prod_use_disabled', wouldNowDeny: 0, wouldNowAllow: 1 },
        { subject: 'deal', gate: 'risk', reason: 'daily_action_limit_reached', wouldNowDeny: 1, wouldNowAllow: 0 },
        { subject: 'deal', gate: 'risk', reason: 'daily_exposure_exceeded', wouldNowDeny: 0, wouldNowAllow: 2 },
      ],
      shifts: [{ subject: 'command', from: 'dry_run', to: 'testnet', count: 1 }],
    });
  });

  it('the same document changes nothing', () => {
    const report = replayPolicies(inputs, current, structuredClone(current));
    expect(report.changed).toEqual({ deals: 0, commands: 0 });
    expect(report.counts).toEqual([]);
    expect(report.shifts).toEqual([]);
  });

  it('admission and go-live come from the document: a required recommendation and go-live off deny', () => {
    const strict = {
      ...current,
      engines: {
        WHOLESALE: { executionClass: 'SANDBOX_EXEC' as const, strategyRequired: false, recommendationRequired: true },
      },
    };
    const outcomes = replayDeals(deals, strict);
    expect(outcomes.get('d1')).toEqual({ gate: 'policy', reason: 'recommendation_required' });
    // d2 carries a recommendation: admitted, and with d1 gone its 150 fits under 300 (then prod use is off).
    expect(outcomes.get('d2')).toEqual({ gate: 'prod_eligibility', reason: 'prod_use_disabled' });
    const off = replayDeals(deals, { ...current, controlPlane: { goLive: false, applyMode: 'testnet' } });
    expect(off.get('d1')).toEqual({ gate: 'control_plane', reason: 'go_live_disabled' });
  });

  it('a pause restriction and the kill switch at the time still stop a deal: the document cannot lift them', () => {
    const [d1] = deals;
    expect(replayDeals([{ ...d1!, pausedEngines: ['WHOLESALE'] }], proposed).get('d1')).toEqual({
      gate: 'risk',
      reason: 'engine_paused',
    });
    const prod = { ...proposed, engines: {} };
    expect(replayDeals([{ ...d1!, killSwitchEngaged: true }], prod).get('d1')).toEqual({
      gate: 'control_plane',
      reason: 'kill_switch_engaged',
    });
  });
});
