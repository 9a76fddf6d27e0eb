import { describe, expect, it } from 'vitest';
import { prepareChanges } from '../../../src/domain/change-requests/prepare';
import {
  canMove,
  CHANGE_REQUEST_STATUSES,
  type ChangeRequestView,
  DEFAULT_EXPIRY_HOURS,
  EditChangePayloadSchema,
  isFinal,
  moveTo,
  PolicyChangeStartSchema,
  requestWindow,
} from '../../../src/domain/change-requests/request';

const at = new Date('2026-12-02T10:00:00Z');
const ctx = { requesterName: 'alice', requesterRoles: [] };

describe('the request state machine', () => {
  it('pending → approved → applied; pending or approved may be rejected or cancelled; only pending expires', () => {
    expect(canMove('pending', 'approved')).toBe(true);
    expect(canMove('approved', 'applied')).toBe(true);
    expect(canMove('approved', 'stale')).toBe(true);
    for (const end of ['rejected', 'cancelled'] as const) {
      expect(canMove('pending', end)).toBe(true);
      expect(canMove('approved', end)).toBe(true);
    }
    expect(canMove('pending', 'expired')).toBe(true);
    expect(canMove('approved', 'expired')).toBe(false);
    expect(canMove('pending', 'applied')).toBe(false);
    expect(canMove('pending', 'stale')).toBe(false);
  });

  it('an ended request never moves again', () => {
    for (const end of ['applied', 'rejected', 'expired', 'cancelled', 'stale'] as const) {
      expect(isFinal(end)).toBe(true);
      for (const to of CHANGE_REQUEST_STATUSES) expect(canMove(end, to)).toBe(false);
    }
    expect(isFinal('pending')).toBe(false);
    expect(isFinal('approved')).toBe(false);
  });

  it('moveTo stamps who decided and when, and refuses a move the rules do not allow', () => {
    const view = {
      status: 'pending',
      decidedAt: null,
      decidedBy: null,
      appliedAt: null,
      detail: null,
    } as ChangeRequestView;
    expect(moveTo(view, 'applied', { actor: 'x', at })).toBe(false);
    expect(moveTo(view, 'rejected', { actor: 'bob', at, detail: 'no' })).toBe(true);
    expect(view).toMatchObject({ status: 'rejected', decidedBy: 'bob', decidedAt: at.toISOString(), detail: 'no' });
    expect(moveTo(view, 'approved', { actor: 'bob', at })).toBe(false);
  });
});

describe('expiry and scheduled apply', () => {
  it('expires after 7 days by default, or after the hours asked', () => {
    const w = requestWindow(at, {});
    expect(w).toEqual({
      ok: true,
      expiresAt: new Date(at.getTime() + DEFAULT_EXPIRY_HOURS * 3_600_000),
      applyAt: null,
    });
    expect(requestWindow(at, { expiresInHours: 2 })).toMatchObject({ expiresAt: new Date('2026-12-02T12:00:00Z') });
  });
  it('an apply time must come before the expiry', () => {
    expect(requestWindow(at, { applyAt: '2026-12-03T09:00:00Z' })).toMatchObject({
      ok: true,
      applyAt: new Date('2026-12-03T09:00:00Z'),
    });
    expect(requestWindow(at, { applyAt: '2026-12-03T09:00:00Z', expiresInHours: 1 })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^applyAt: /),
    });
  });
  it('the expiry is bounded to 30 days', () => {
    const start = (expiresInHours: number) =>
      PolicyChangeStartSchema.safeParse({
        id: 'cr-0123456789ab',
        requestedBy: { name: 'alice', roles: [] },
        changes: [{ kind: 'control_plane', target: 'goLive', after: false }],
        reason: 'incident',
        expiresInHours,
      }).success;
    expect(start(720)).toBe(true);
    expect(start(721)).toBe(false);
    expect(start(0)).toBe(false);
  });
});

describe('a start payload and an edit', () => {
  it('names the bad field', () => {
    const parsed = PolicyChangeStartSchema.safeParse({
      id: 'CR 1',
      requestedBy: { name: 'alice' },
      changes: [],
      reason: ' ',
    });
    expect(parsed.success).toBe(false);
    const fields = parsed.error!.issues.map((i) => i.path.join('.'));
    expect(fields).toEqual(expect.arrayContaining(['id', 'changes', 'reason']));
    expect(
      EditChangePayloadSchema.safeParse({ actor: 'alice', changes: [{ kind: 'nope', target: 'x', after: 1 }] }).success,
    ).toBe(false);
  });
});

describe('preparing changes against what is stored', () => {
  const risk = { maxDailyLoss: 500, maxDailyExposure: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: true };

  it('takes before from the store, never from the requester, and classifies', () => {
    const prepared = prepareChanges(
      [
        {
          kind: 'risk_policy',
          target: 'WHOLESALE',
          before: { ...risk, maxDailyLoss: 9_999 },
          after: { ...risk, maxDailyLoss: 900 },
        },
      ],
      [risk],
      ctx,
    );
    expect(prepared).toMatchObject({
      ok: true,
      changes: [
        { kind: 'risk_policy', before: { maxDailyLoss: 500 }, after: { maxDailyLoss: 900 }, direction: 'loosen' },
      ],
    });
  });

  it('drops changes that change nothing; refuses when none is left', () => {
    const prepared = prepareChanges(
      [
        { kind: 'risk_policy', target: 'WHOLESALE', after: risk },
        { kind: 'control_plane', target: 'goLive', after: false },
      ],
      [risk, true],
      ctx,
    );
    expect(prepared).toMatchObject({ ok: true, changes: [{ kind: 'control_plane', direction: 'tighten' }] });
    expect(prepareChanges([{ kind: 'risk_policy', target: 'WHOLESALE', after: risk }], [risk], ctx)).toEqual({
      ok: false,
      problem: 'changes: nothing to change, every change matches what is stored',
    });
    // Removing an approver who is not there, clearing a restriction that is not active: nothing either.
    expect(prepareChanges([{ kind: 'approver', target: 'tech_lead:bob', after: null }], [null], ctx).ok).toBe(false);
  });

  it('names the field of a malformed change, and refuses a target named twice', () => {
    expect(
      prepareChanges([{ kind: 'risk_policy', target: 'WHOLESALE', after: { ...risk, maxDailyLoss: -1 } }], [risk], ctx),
    ).toEqual({ ok: false, problem: 'changes.0.after.maxDailyLoss: must be 0 or more' });
    expect(
      prepareChanges(
        [
          { kind: 'control_plane', target: 'goLive', after: false },
          { kind: 'control_plane', target: 'goLive', after: true },
        ],
        [true, true],
        ctx,
      ),
    ).toEqual({ ok: false, problem: 'changes.1: a second change to control_plane goLive in one request' });
  });

  it('a restriction placed is new; one cleared by engine keeps the narrowing asked for', () => {
    const placed = prepareChanges(
      [{ kind: 'restriction', target: 'WHOLESALE', after: { engine: 'WHOLESALE', restriction: 'pause' } }],
      [{ engine: 'WHOLESALE' }],
      ctx,
    );
    expect(placed).toMatchObject({ ok: true, changes: [{ before: null, direction: 'tighten' }] });
    const cleared = prepareChanges(
      [
        {
          kind: 'restriction',
          target: 'WHOLESALE',
          before: { restriction: 'throttle', source: 'tripwire' },
          after: null,
        },
      ],
      [{ engine: 'WHOLESALE' }],
      ctx,
    );
    expect(cleared).toMatchObject({
      ok: true,
      changes: [{ before: { engine: 'WHOLESALE', restriction: 'throttle', source: 'tripwire' }, direction: 'loosen' }],
    });
  });
});
