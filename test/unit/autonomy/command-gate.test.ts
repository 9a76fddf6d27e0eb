import { describe, expect, it } from 'vitest';
import { decideCommandGate } from '../../../src/domain/autonomy/commands';
import { type ControlPlaneState, INITIAL_CONTROL_PLANE_STATE } from '../../../src/domain/control-plane/types';

// Issue 17: in reduce mode a command runs only if its type's policy marks it safe_in_reduce.
describe('decideCommandGate in reduce mode', () => {
  const reducing: ControlPlaneState = {
    ...INITIAL_CONTROL_PLANE_STATE,
    goLiveEnabled: true,
    applyMode: 'live',
    killSwitchEngaged: true,
    killSwitchMode: 'reduce',
  };
  const gate = (safeInReduce: boolean, state = reducing) =>
    decideCommandGate({
      policyClass: 'PROD_EXEC',
      safeInReduce,
      commandType: 'SET_POWER',
      state,
      executorAvailable: true,
    });

  it('runs a command type marked safe, refuses any other naming the policy', () => {
    expect(gate(true)).toMatchObject({ allowed: true, applyMode: 'live' });
    expect(gate(false)).toMatchObject({
      allowed: false,
      gate: 'control_plane',
      reason: 'reducing_only',
      detail: expect.stringContaining('SET_POWER is not marked safe_in_reduce'),
    });
  });

  it('halt refuses even a safe type; released, the mark changes nothing', () => {
    expect(gate(true, { ...reducing, killSwitchMode: 'halt' })).toMatchObject({ reason: 'kill_switch_engaged' });
    expect(gate(false, { ...reducing, killSwitchEngaged: false, killSwitchMode: null })).toMatchObject({
      allowed: true,
    });
  });
});
