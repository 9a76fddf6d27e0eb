import { describe, expect, it } from 'vitest';
import {
  type ApprovalRecord,
  type ApprovalSlot,
  assignSlots,
  ChangeApprovalsConfigSchema,
  DEFAULT_CHANGE_APPROVALS,
  judgeApproval,
  judgeRejection,
  missingApprovals,
  requiredApprovals,
} from '../../../src/domain/change-requests/approvals';
import { POLICY_CHANGE_KINDS } from '../../../src/domain/change-requests/changes';
import { loadConfig } from '../../../src/config/index';
import type { Role } from '../../../src/domain/identity/roles';

const slot = (...roles: Role[]): ApprovalSlot => ({ roles });
const approval = (actor: string, role: Role): ApprovalRecord => ({
  actor,
  role,
  comment: null,
  at: '2026-12-02T00:00:00Z',
});
const loosening = (kind: (typeof POLICY_CHANGE_KINDS)[number]) => ({ kind, direction: 'loosen' as const, why: [] });
const tightening = (kind: (typeof POLICY_CHANGE_KINDS)[number]) => ({ kind, direction: 'tighten' as const, why: [] });

describe('required approvals', () => {
  it('every kind needs at least one approval by default; API keys the owner; go-live an owner or manager and one more', () => {
    for (const kind of POLICY_CHANGE_KINDS) expect(DEFAULT_CHANGE_APPROVALS[kind].length).toBeGreaterThan(0);
    expect(DEFAULT_CHANGE_APPROVALS.api_key).toEqual([slot('owner')]);
    expect(DEFAULT_CHANGE_APPROVALS.control_plane).toEqual([
      slot('owner', 'manager'),
      slot('owner', 'manager', 'risk_officer'),
    ]);
    expect(DEFAULT_CHANGE_APPROVALS.risk_policy).toEqual([slot('risk_officer'), slot('manager')]);
  });

  it('a request needs the union over its loosening changes only', () => {
    expect(requiredApprovals([tightening('risk_policy'), tightening('api_key')], DEFAULT_CHANGE_APPROVALS)).toEqual([]);
    // A Warden workflow's own proposal waits for people even when it only tightens.
    expect(requiredApprovals([tightening('heimdall_policy')], DEFAULT_CHANGE_APPROVALS, { everyChange: true })).toEqual(
      requiredApprovals([loosening('heimdall_policy')], DEFAULT_CHANGE_APPROVALS),
    );
    expect(
      requiredApprovals([tightening('heimdall_policy')], DEFAULT_CHANGE_APPROVALS, { everyChange: true }),
    ).not.toEqual([]);
    expect(requiredApprovals([loosening('risk_policy'), tightening('api_key')], DEFAULT_CHANGE_APPROVALS)).toEqual([
      slot('risk_officer'),
      slot('manager'),
    ]);
    // The same slot from two kinds is needed once; a new one is added.
    expect(
      requiredApprovals(
        [loosening('risk_policy'), loosening('heimdall_policy'), loosening('api_key')],
        DEFAULT_CHANGE_APPROVALS,
      ),
    ).toEqual([slot('risk_officer'), slot('manager'), slot('owner')]);
  });

  it('a slot one kind needs twice is needed twice', () => {
    const twice = { ...DEFAULT_CHANGE_APPROVALS, strategy: [slot('risk_officer'), slot('risk_officer')] };
    expect(requiredApprovals([loosening('strategy'), loosening('risk_policy')], twice)).toEqual([
      slot('risk_officer'),
      slot('risk_officer'),
      slot('manager'),
    ]);
  });
});

describe('WARDEN_CHANGE_APPROVALS', () => {
  it('overrides the kinds it names, keeps the defaults of the rest', () => {
    const parsed = ChangeApprovalsConfigSchema.parse('{"risk_policy": ["owner", ["manager", "risk_officer"]]}');
    expect(parsed.risk_policy).toEqual([slot('owner'), slot('manager', 'risk_officer')]);
    expect(parsed.api_key).toEqual(DEFAULT_CHANGE_APPROVALS.api_key);
    expect(ChangeApprovalsConfigSchema.parse('')).toEqual(DEFAULT_CHANGE_APPROVALS);
    expect(loadConfig({}).changeApprovals).toEqual(DEFAULT_CHANGE_APPROVALS);
    expect(
      loadConfig({ WARDEN_CHANGE_APPROVALS: '{"api_key": ["owner", "manager"]}' }).changeApprovals.api_key,
    ).toEqual([slot('owner'), slot('manager')]);
  });

  it('refuses bad JSON, an unknown kind or role, and a kind with no approval, naming the field', () => {
    const bad = (value: string) => () => loadConfig({ WARDEN_CHANGE_APPROVALS: value });
    expect(bad('{risk')).toThrow(/invalid WARDEN_CHANGE_APPROVALS: expected JSON/);
    expect(bad('{"teleport": ["owner"]}')).toThrow(/WARDEN_CHANGE_APPROVALS: teleport: unknown field/);
    expect(bad('{"risk_policy": ["boss"]}')).toThrow(/WARDEN_CHANGE_APPROVALS: risk_policy\.0/);
    expect(bad('{"risk_policy": []}')).toThrow(/risk_policy: a kind needs at least one approval/);
  });
});

describe('judging an approval', () => {
  const request = (approvals: ApprovalRecord[] = [], required = [slot('risk_officer'), slot('manager')]) => ({
    requestedBy: 'alice',
    required,
    approvals,
  });

  it('the requester never approves their own request, under any spelling', () => {
    expect(judgeApproval(request(), approval('alice', 'risk_officer'))).toMatchObject({ outcome: 'refused' });
    const judged = judgeApproval(request(), approval(' Alice', 'manager'));
    expect(judged).toMatchObject({
      outcome: 'refused',
      problem: expect.stringMatching(/^actor: .*requested this change/),
    });
  });

  it('counts an approval in a needed role, once per person', () => {
    const first = judgeApproval(request(), approval('bob', 'risk_officer'));
    expect(first.outcome).toBe('counted');
    const approvals = first.outcome === 'counted' ? first.approvals : [];
    expect(judgeApproval(request(approvals), approval('bob', 'risk_officer'))).toEqual({ outcome: 'duplicate' });
    // One person fills at most one slot, whatever role they name the second time.
    expect(judgeApproval(request(approvals), approval('bob', 'manager'))).toEqual({ outcome: 'duplicate' });
    expect(missingApprovals(request().required, approvals)).toEqual([slot('manager')]);
  });

  it('refuses a role no slot takes, and a role whose slots are all filled', () => {
    expect(judgeApproval(request(), approval('bob', 'engineer'))).toMatchObject({
      outcome: 'refused',
      problem: 'role: engineer is not among the approvals this request needs (risk_officer + manager)',
    });
    expect(judgeApproval(request([approval('bob', 'risk_officer')]), approval('carol', 'risk_officer'))).toMatchObject({
      outcome: 'refused',
      problem: 'role: every approval risk_officer can give is already given',
    });
  });

  it('an owner fills any slot', () => {
    const judged = judgeApproval(request([approval('bob', 'risk_officer')]), approval('olga', 'owner'));
    expect(judged.outcome).toBe('counted');
    if (judged.outcome === 'counted') expect(missingApprovals(request().required, judged.approvals)).toEqual([]);
  });

  it('the order approvals arrive in never strands one (a maximum matching)', () => {
    // The owner came first and could sit in either slot; the manager needs the first.
    const required = [slot('owner', 'manager'), slot('owner')];
    const first = judgeApproval(request([], required), approval('olga', 'owner'));
    const approvals = first.outcome === 'counted' ? first.approvals : [];
    const second = judgeApproval(request(approvals, required), approval('mike', 'manager'));
    expect(second.outcome).toBe('counted');
    if (second.outcome === 'counted') {
      expect(missingApprovals(required, second.approvals)).toEqual([]);
      expect(assignSlots(required, second.approvals)).toEqual([1, 0]);
    }
  });

  it('a rejection comes from someone in a needed role who is not the requester', () => {
    expect(judgeRejection(request(), { actor: 'bob', role: 'manager' })).toEqual({ ok: true });
    expect(judgeRejection(request(), { actor: 'olga', role: 'owner' })).toEqual({ ok: true });
    expect(judgeRejection(request(), { actor: 'alice', role: 'manager' })).toMatchObject({ ok: false });
    expect(judgeRejection(request(), { actor: 'bob', role: 'analyst' })).toMatchObject({ ok: false });
  });
});
