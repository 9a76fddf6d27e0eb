import { describe, expect, it } from 'vitest';
import {
  type AuthorityChange,
  type AuthorityContext,
  judgeAuthority,
  playbookProblem,
} from '../../../src/domain/control-plane/loosening';
import {
  type ControlPlaneChange,
  type ControlPlaneState,
  INITIAL_CONTROL_PLANE_STATE,
  SetApplyModeInputSchema,
  SetGoLiveInputSchema,
} from '../../../src/domain/control-plane/types';

const off: ControlPlaneState = INITIAL_CONTROL_PLANE_STATE;
const on: ControlPlaneState = { ...off, goLiveEnabled: true, applyMode: 'testnet' };
const goLive: AuthorityChange = { kind: 'control_plane', target: 'goLive', before: false, after: true };
const toLive: AuthorityChange = { kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'live' };
const clear42: AuthorityChange = {
  kind: 'restriction',
  target: '42',
  before: { engine: 'WHOLESALE', restriction: 'pause', source: 'tripwire' },
  after: null,
};
const clearThrottles: AuthorityChange = {
  kind: 'restriction',
  target: 'WHOLESALE',
  before: { engine: 'WHOLESALE', restriction: 'throttle' },
  after: null,
};
const request = (status: string, ...changes: AuthorityChange[]): AuthorityContext => ({
  changeRequest: { id: 'cr-0123456789ab', status, changes },
  spent: [],
});
const id = 'cr-0123456789ab';

describe('judgeAuthority: loosening control-plane changes need an approved change request', () => {
  it('tightening and no-op changes need none, whoever sends them', () => {
    const tightening: [ControlPlaneState, ControlPlaneChange][] = [
      [on, { kind: 'setGoLive', enabled: false, actor: 'eve' }],
      [off, { kind: 'setGoLive', enabled: false, actor: 'eve' }],
      [on, { kind: 'setApplyMode', mode: 'dry_run', actor: 'eve' }],
      [on, { kind: 'setApplyMode', mode: 'testnet', actor: 'eve' }],
      [off, { kind: 'engageKillSwitch', source: 'operator', actor: 'eve', reason: 'x' }],
      [
        off,
        {
          kind: 'restrictEngine',
          engine: 'WHOLESALE',
          restriction: 'pause',
          source: 'operator',
          actor: 'e',
          reason: 'x',
        },
      ],
      // Already on: nothing is loosened (a retried apply of the same request lands here).
      [on, { kind: 'setGoLive', enabled: true, actor: 'eve' }],
    ];
    for (const [state, change] of tightening)
      expect(judgeAuthority(state, change, undefined)).toEqual({ needed: false });
  });

  it('refuses go-live on, apply mode towards live and a clear without a change request, saying how to open one', () => {
    expect(judgeAuthority(off, { kind: 'setGoLive', enabled: true, actor: 'eve' }, undefined)).toEqual({
      needed: true,
      ok: false,
      problem:
        'changeRequestId: go-live on is a change request: open one with `warden go-live on` or POST /change-requests; it applies once others approve it',
    });
    expect(judgeAuthority(on, { kind: 'setApplyMode', mode: 'live', actor: 'eve' }, undefined)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(
        /^changeRequestId: apply mode live is a change request: open one with `warden apply-mode live`/,
      ),
    });
    expect(judgeAuthority(off, { kind: 'setApplyMode', mode: 'testnet', actor: 'eve' }, undefined)).toMatchObject({
      ok: false,
    });
    expect(
      judgeAuthority(
        off,
        { kind: 'clearEngineRestriction', restrictionId: '42', actor: 'eve', reason: 'x' },
        undefined,
      ),
    ).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^changeRequestId: lifting a restriction is a change request/),
    });
  });

  it('refuses a forged, unapproved, mismatched or spent request', () => {
    const change: ControlPlaneChange = { kind: 'setGoLive', enabled: true, actor: 'eve', changeRequestId: id };
    expect(judgeAuthority(off, change, undefined)).toMatchObject({
      ok: false,
      problem: `changeRequestId: change request ${id} could not be checked`,
    });
    expect(judgeAuthority(off, change, { changeRequest: null, spent: [] })).toMatchObject({
      ok: false,
      problem: `changeRequestId: Warden holds no change request ${id}`,
    });
    for (const status of ['pending', 'rejected', 'expired', 'cancelled', 'stale'])
      expect(judgeAuthority(off, change, request(status, goLive))).toMatchObject({
        ok: false,
        problem: `changeRequestId: change request ${id} is ${status}, not approved`,
      });
    // Approved, but for something else: apply mode, or go-live off.
    expect(
      judgeAuthority(off, change, request('approved', toLive, { ...goLive, before: true, after: false })),
    ).toMatchObject({
      ok: false,
      problem: `changeRequestId: change request ${id} does not include this change (go-live on)`,
    });
    expect(
      judgeAuthority(
        off,
        { kind: 'setApplyMode', mode: 'testnet', actor: 'eve', changeRequestId: id },
        request('approved', toLive),
      ),
    ).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not include this change \(apply mode dry_run → testnet\)/),
    });
    expect(judgeAuthority(off, change, { ...request('applied', goLive), spent: [goLive] })).toMatchObject({
      ok: false,
      problem: `changeRequestId: change request ${id} was already applied for go-live on; a new one is needed`,
    });
  });

  it('takes an approved (or just applied) request that includes exactly this change', () => {
    for (const status of ['approved', 'applying', 'applied'])
      expect(
        judgeAuthority(
          off,
          { kind: 'setGoLive', enabled: true, actor: 'x', changeRequestId: id },
          request(status, toLive, goLive),
        ),
      ).toEqual({ needed: true, ok: true, changeRequestId: id, change: goLive });
    expect(
      judgeAuthority(
        off,
        { kind: 'setApplyMode', mode: 'live', actor: 'x', changeRequestId: id },
        { ...request('applied', toLive, goLive), spent: [goLive] },
      ),
    ).toMatchObject({ ok: true, change: toLive });
  });

  it('a clear matches its request change by restriction id, or by engine with the same narrowing', () => {
    const byId = (restrictionId: string) =>
      judgeAuthority(
        off,
        { kind: 'clearEngineRestriction', restrictionId, actor: 'x', reason: 'r', changeRequestId: id },
        request('approved', clear42, clearThrottles),
      );
    expect(byId('42')).toMatchObject({ ok: true, change: clear42 });
    expect(byId('43')).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not include this change \(clear restriction 43\)/),
    });
    const byEngine = (narrow: { restriction?: 'throttle' | 'pause'; source?: string }) =>
      judgeAuthority(
        off,
        {
          kind: 'clearEngineRestriction',
          engine: 'WHOLESALE',
          ...narrow,
          actor: 'x',
          reason: 'r',
          changeRequestId: id,
        },
        request('approved', clear42, clearThrottles),
      );
    expect(byEngine({ restriction: 'throttle' })).toMatchObject({ ok: true, change: clearThrottles });
    // Each change of the request applies once, however its stored copy orders its keys.
    const spentClear42 = {
      after: null,
      before: { source: 'tripwire', restriction: 'pause', engine: 'WHOLESALE' },
      target: '42',
      kind: 'restriction',
    };
    expect(
      judgeAuthority(
        off,
        { kind: 'clearEngineRestriction', restrictionId: '42', actor: 'x', reason: 'r', changeRequestId: id },
        { ...request('applied', clear42), spent: [clearThrottles, spentClear42] },
      ),
    ).toMatchObject({ ok: false, problem: expect.stringMatching(/already applied for clear restriction 42/) });
    // Wider than approved (every restriction), or narrowed differently: not this change.
    expect(byEngine({})).toMatchObject({ ok: false });
    expect(byEngine({ restriction: 'pause' })).toMatchObject({ ok: false });
    expect(byEngine({ restriction: 'throttle', source: 'tripwire' })).toMatchObject({ ok: false });
  });

  it('the payload schemas take a changeRequestId, and name it when malformed', () => {
    expect(SetGoLiveInputSchema.parse({ enabled: true, actor: 'a', changeRequestId: id })).toMatchObject({
      changeRequestId: id,
    });
    const bad = SetApplyModeInputSchema.safeParse({ mode: 'live', actor: 'a', changeRequestId: 'DROP TABLE' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['changeRequestId']);
  });
});

describe('playbookProblem: go-live needs a playbook completed after the last go-live off', () => {
  it('refuses with none, or with one completed before (or at) the last off', () => {
    expect(playbookProblem(null, null)).toMatch(/^enabled: go-live needs a completed goLivePlaybook/);
    expect(playbookProblem('2026-11-20T09:00:00.000Z', '2026-11-21T09:00:00.000Z')).toBe(
      'enabled: go-live was turned off at 2026-11-21T09:00:00.000Z, after the last goLivePlaybook completed (2026-11-20T09:00:00.000Z); complete a new one (`warden playbook`) before going live again',
    );
    expect(playbookProblem('2026-11-21T09:00:00.000Z', '2026-11-21T09:00:00.000Z')).toMatch(
      /^enabled: go-live was turned off/,
    );
  });

  it('accepts one completed after the last off, or any when go-live never went off', () => {
    expect(playbookProblem('2026-11-22T09:00:00.000Z', '2026-11-21T09:00:00.000Z')).toBeNull();
    expect(playbookProblem('2026-11-20T09:00:00.000Z', null)).toBeNull();
  });
});
