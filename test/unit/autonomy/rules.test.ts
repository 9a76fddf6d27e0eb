import { describe, expect, it } from 'vitest';
import { BreakerRuleSchema, evaluateBreakers, parseCondition } from '../../../src/domain/autonomy/breakers';
import { type CommandOutcome, computeMetrics } from '../../../src/domain/autonomy/metrics';
import { isWhitelisted, type PhaseDefinition, whitelistFor } from '../../../src/domain/autonomy/phases';
import {
  checkApproval,
  checkRejection,
  decideExpansion,
  ProposalTermsSchema,
} from '../../../src/domain/autonomy/proposals';
import { assessReadiness, type ReadinessEvidence } from '../../../src/domain/autonomy/readiness';
import { READINESS_CHECKLIST } from '../../../src/domain/autonomy/readiness-checklist';

const phases: PhaseDefinition[] = [
  { phase: 'L3', ordinal: 0, addedCommands: [], allCommands: false, validationDays: null, requiredRoles: [] },
  {
    phase: 'L3+',
    ordinal: 1,
    addedCommands: ['SET_POWER', 'SET_FAN'],
    allCommands: false,
    validationDays: 14,
    requiredRoles: ['tech_lead'],
  },
  {
    phase: 'L4',
    ordinal: 2,
    addedCommands: ['SET_DRUM', 'SET_AIRFLOW'],
    allCommands: false,
    validationDays: 21,
    requiredRoles: ['tech_lead', 'ops_lead'],
  },
  {
    phase: 'L4+',
    ordinal: 3,
    addedCommands: ['PREHEAT', 'COOLING_CYCLE'],
    allCommands: false,
    validationDays: 30,
    requiredRoles: ['tech_lead', 'ops_lead', 'product_lead'],
  },
  {
    phase: 'L5',
    ordinal: 4,
    addedCommands: ['EMERGENCY_SHUTDOWN', 'ABORT'],
    allCommands: true,
    validationDays: 60,
    requiredRoles: ['tech_lead', 'ops_lead', 'product_lead', 'exec_sponsor'],
  },
];

describe('phases and whitelists (seed 002)', () => {
  it('each phase adds to the commands before it; L5 runs everything', () => {
    expect(whitelistFor(phases, 'L3')).toEqual({ commands: [], allCommands: false });
    expect(whitelistFor(phases, 'L4').commands).toEqual(['SET_POWER', 'SET_FAN', 'SET_DRUM', 'SET_AIRFLOW']);
    expect(isWhitelisted(whitelistFor(phases, 'L4+'), 'PREHEAT')).toBe(true);
    expect(isWhitelisted(whitelistFor(phases, 'L4+'), 'ABORT')).toBe(false);
    expect(isWhitelisted(whitelistFor(phases, 'L5'), 'USER_DEFINED_VENT')).toBe(true);
  });
});

const t0 = new Date('2026-11-24T12:00:00Z');
const outcome = (
  status: CommandOutcome['status'],
  secondsAgo: number,
  commandType = 'SET_FAN',
  approval: CommandOutcome['approval'] = null,
): CommandOutcome => ({
  commandType,
  status,
  approval,
  at: new Date(t0.getTime() - secondsAgo * 1000),
});

describe('metrics collector', () => {
  it('counts per status and rates over executed commands and human decisions', () => {
    const m = computeMetrics([
      outcome('succeeded', 1, 'A', 'approved'),
      outcome('failed', 2),
      outcome('rolled_back', 3),
      outcome('succeeded', 4),
      outcome('rejected', 5, 'B', 'rejected'),
    ]);
    expect(m).toEqual({
      total: 5,
      counts: { succeeded: 2, failed: 1, rejected: 1, rolled_back: 1, denied: 0, dry_run: 0 },
      successRate: 0.5,
      errorRate: 0.25,
      rollbackRate: 0.25,
      approvalRate: 0.5,
    });
    expect(computeMetrics([])).toMatchObject({ successRate: null, approvalRate: null });
  });

  it('a denied or dry-run command is not an execution: no failure, no change to the rates', () => {
    const m = computeMetrics([
      outcome('succeeded', 1),
      outcome('denied', 2, 'A', 'approved'),
      outcome('dry_run', 3),
      outcome('denied', 4),
    ]);
    expect(m).toMatchObject({
      total: 4,
      counts: { succeeded: 1, failed: 0, denied: 2, dry_run: 1 },
      successRate: 1,
      errorRate: 0,
      rollbackRate: 0,
    });
  });
});

describe('readiness: the 80-point checklist', () => {
  it("has seed 002's items and weights: 35 + 25 + 20", () => {
    const sum = (c: string) => READINESS_CHECKLIST.filter((i) => i.category === c).reduce((s, i) => s + i.points, 0);
    expect([sum('technical'), sum('process'), sum('organizational')]).toEqual([35, 25, 20]);
    expect(READINESS_CHECKLIST.filter((i) => i.required).map((i) => i.key)).toEqual([
      'months_at_phase',
      'success_rate',
      'eval_coverage',
      'zero_critical_incidents',
      'circuit_breakers_configured',
      'monitoring_in_place',
      'runbooks',
      'escalation_path',
      'stakeholder_signoff',
      'oncall_trained',
      'team_consensus',
      'product_approval',
      'ops_approval',
    ]);
  });

  const perfect: ReadinessEvidence = {
    daysAtPhase: 200,
    metrics: {
      total: 1000,
      counts: { succeeded: 1000, failed: 0, rejected: 0, rolled_back: 0, denied: 0, dry_run: 0 },
      successRate: 1,
      errorRate: 0,
      rollbackRate: 0,
      approvalRate: 0.9,
    },
    criticalAutonomousIncidents: 0,
    enabledBreakerRules: 4,
    killSwitchExercisedWithinDays: 10,
    auditChainIntact: true,
    attestations: Object.fromEntries(
      READINESS_CHECKLIST.filter((i) => i.source === 'attestation').map((i) => [
        i.key,
        { passed: true, by: 'alice', at: t0.toISOString() },
      ]),
    ),
  };
  const without = (...keys: string[]): ReadinessEvidence => ({
    ...perfect,
    attestations: { ...perfect.attestations, ...Object.fromEntries(keys.map((k) => [k, undefined])) },
  });

  it.each([
    ['80 points, every required item', perfect, 80, 'Ready', true],
    [
      '76 points (chaos 2 + architecture 2 missing), every required item',
      without('chaos_testing', 'architecture_docs'),
      76,
      'Ready',
      true,
    ],
    [
      '75 points (security review 3 + architecture 2 missing)',
      without('security_review', 'architecture_docs'),
      75,
      'Almost Ready',
      true,
    ],
    [
      '76 points with a required item (escalation path, 4) missing',
      without('escalation_path'),
      76,
      'Almost Ready',
      false,
    ],
    ['75 points with a required item (runbooks, 5) missing', without('runbooks'), 75, 'Almost Ready', false],
    ['72 points', without('security_review', 'incident_playbooks', 'architecture_docs'), 72, 'Almost Ready', true],
    [
      '71 points',
      without('security_review', 'incident_playbooks', 'architecture_docs', 'chaos_testing'),
      70,
      'Needs Work',
      true,
    ],
  ] as const)('%s', (_name, evidence, score, status, allRequired) => {
    const report = assessReadiness(evidence);
    expect({ score: report.score, status: report.status, allRequired: report.allRequiredPassed }).toEqual({
      score,
      status,
      allRequired,
    });
  });

  it('names the blockers, and data items follow the evidence', () => {
    const report = assessReadiness({
      ...perfect,
      metrics: { ...perfect.metrics, approvalRate: 0.5 },
      daysAtPhase: 100,
    });
    expect(report).toMatchObject({ score: 72, status: 'Almost Ready', allRequiredPassed: false });
    expect(report.blockers).toEqual([
      'score 72/80 is below 76 (95%)',
      'required: 6+ months at current phase (100 days at phase (need 180))',
    ]);
    const justRequired = assessReadiness({ ...perfect, criticalAutonomousIncidents: 1 });
    expect(justRequired).toMatchObject({ score: 75, status: 'Almost Ready' });
    const at78 = assessReadiness({ ...perfect, killSwitchExercisedWithinDays: null });
    expect(at78).toMatchObject({ score: 78, status: 'Ready' });
    const requiredOnly = assessReadiness({ ...perfect, enabledBreakerRules: 0 });
    expect(requiredOnly).toMatchObject({ score: 77, status: 'Almost Ready', allRequiredPassed: false });
    expect(requiredOnly.blockers).toEqual(['required: Circuit breakers configured (0 enabled breaker rule(s))']);
  });
});

describe('circuit breakers: the four default rules', () => {
  const rules = [
    {
      name: 'High Error Rate',
      enabled: true,
      condition: 'errorRate > 0.05',
      window: '5m',
      action: 'revert_to_l3' as const,
      alertSeverity: 'high' as const,
    },
    {
      name: 'Repeated Command Failures',
      enabled: true,
      condition: 'failures >= 3',
      window: '5m',
      action: 'pause_command_type' as const,
      alertSeverity: 'medium' as const,
    },
    {
      name: 'Critical Incident',
      enabled: true,
      condition: 'criticalIncidents >= 1',
      window: '1m',
      action: 'revert_to_l3' as const,
      alertSeverity: 'critical' as const,
    },
    {
      name: 'High Rollback Rate',
      enabled: true,
      condition: 'rollbackRate > 0.10',
      window: '15m',
      action: 'alert_only' as const,
      alertSeverity: 'medium' as const,
    },
  ];
  const succeeded = (n: number, type = 'SET_FAN') =>
    Array.from({ length: n }, (_, i) => outcome('succeeded', 10 + i, type));
  const rule = (name: string) => rules.filter((r) => r.name === name);

  it('High Error Rate: above 5% in 5 minutes, not at 5%', () => {
    // 1 failure in 20 = 5%: no trip. 1 failed, 1 other type failed… 2 in 20 = 10%.
    expect(evaluateBreakers(rule('High Error Rate'), [...succeeded(19), outcome('failed', 5)], [], t0)).toEqual([]);
    expect(
      evaluateBreakers(rule('High Error Rate'), [...succeeded(18), outcome('failed', 5), outcome('failed', 6)], [], t0),
    ).toMatchObject([{ action: 'revert_to_l3', observed: 0.1 }]);
    // Outside the window it does not count.
    expect(
      evaluateBreakers(
        rule('High Error Rate'),
        [...succeeded(18), outcome('failed', 301), outcome('failed', 302)],
        [],
        t0,
      ),
    ).toEqual([]);
  });

  it('Repeated Command Failures: 3 failures of one type in 5 minutes pause that type, 2 do not', () => {
    const two = [outcome('failed', 1, 'SET_DRUM'), outcome('failed', 2, 'SET_DRUM'), outcome('failed', 3, 'SET_FAN')];
    expect(evaluateBreakers(rule('Repeated Command Failures'), two, [], t0)).toEqual([]);
    expect(
      evaluateBreakers(rule('Repeated Command Failures'), [...two, outcome('failed', 4, 'SET_DRUM')], [], t0),
    ).toMatchObject([{ action: 'pause_command_type', commandType: 'SET_DRUM', observed: 3 }]);
  });

  it('Critical Incident: one critical incident in the last minute', () => {
    const incident = (severity: string, secondsAgo: number) => ({
      severity,
      autonomous: true,
      at: new Date(t0.getTime() - secondsAgo * 1000),
    });
    expect(
      evaluateBreakers(rule('Critical Incident'), [], [incident('high', 5), incident('critical', 61)], t0),
    ).toEqual([]);
    expect(evaluateBreakers(rule('Critical Incident'), [], [incident('critical', 59)], t0)).toMatchObject([
      { action: 'revert_to_l3', alertSeverity: 'critical' },
    ]);
  });

  it('High Rollback Rate: above 10% in 15 minutes, alert only', () => {
    expect(
      evaluateBreakers(rule('High Rollback Rate'), [...succeeded(9), outcome('rolled_back', 800)], [], t0),
    ).toEqual([]);
    expect(
      evaluateBreakers(
        rule('High Rollback Rate'),
        [...succeeded(8), outcome('rolled_back', 800), outcome('rolled_back', 5)],
        [],
        t0,
      ),
    ).toMatchObject([{ action: 'alert_only' }]);
  });

  it('refuses a malformed rule with a clear error naming the field', () => {
    expect(parseCondition('errorRate >> 5')).toEqual({
      error: `condition 'errorRate >> 5' is not "<metric> <op> <number>" (e.g. errorRate > 0.05)`,
    });
    expect(parseCondition('latency > 3')).toMatchObject({ error: expect.stringMatching(/^unknown metric 'latency'/) });
    const bad = BreakerRuleSchema.safeParse({
      name: 'x',
      enabled: true,
      condition: 'oops',
      window: 'soon',
      action: 'alert_only',
      alertSeverity: 'low',
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['condition', 'window']);
  });
});

describe('proposal approvals', () => {
  const terms = ProposalTermsSchema.parse({
    proposalId: 'expansion-L4-2026-11-24',
    fromPhase: 'L3+',
    targetPhase: 'L4',
    commands: ['SET_DRUM', 'SET_AIRFLOW'],
    validationDays: 21,
    achievements: [],
    risk: { level: 'medium', mitigations: [] },
    requiredRoles: ['tech_lead', 'ops_lead'],
    approvers: { tech_lead: ['alice', 'bob'], ops_lead: ['carol', 'alice'] },
  });
  const alice = { role: 'tech_lead' as const, approver: 'alice', comment: null, at: t0.toISOString() };

  it('accepts an allowed approver for a required role', () => {
    expect(checkApproval(terms, [], { role: 'tech_lead', approver: 'alice' })).toMatchObject({ ok: true });
  });
  it.each([
    [
      'wrong role',
      { role: 'product_lead', approver: 'alice' },
      [],
      'role: product_lead is not required for L4 (required: tech_lead, ops_lead)',
    ],
    [
      'unknown approver',
      { role: 'ops_lead', approver: 'mallory' },
      [],
      'approver: mallory is not on the allowlist for ops_lead',
    ],
    [
      'same person twice',
      { role: 'ops_lead', approver: 'alice' },
      [alice],
      'approver: alice already approved as tech_lead; one person cannot fill two roles',
    ],
    [
      'duplicate approval',
      { role: 'tech_lead', approver: 'alice' },
      [alice],
      'approver: alice already approved as tech_lead',
    ],
    [
      'role already filled',
      { role: 'tech_lead', approver: 'bob' },
      [alice],
      'role: tech_lead already approved by alice',
    ],
    ['malformed JSON', { role: 'tech_lead' }, [], 'approver: Invalid input: expected string, received undefined'],
    ['unknown field', { role: 'tech_lead', approver: 'bob', aproved: true }, [], 'aproved: unknown field'],
  ])('refuses %s with its reason', (_name, payload, approvals, reason) => {
    expect(checkApproval(terms, approvals as never, payload)).toEqual({ ok: false, reason });
  });
  it('a rejection needs a reason and an allowed approver', () => {
    expect(checkRejection(terms, { role: 'ops_lead', approver: 'carol', reason: 'not yet' })).toMatchObject({
      ok: true,
    });
    expect(checkRejection(terms, { role: 'ops_lead', approver: 'carol' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^reason:/),
    });
    expect(checkRejection(terms, { role: 'ops_lead', approver: 'eve', reason: 'x' })).toEqual({
      ok: false,
      reason: 'approver: eve is not on the allowlist for ops_lead',
    });
  });
});

describe('expansion decision logic', () => {
  const ready = assessReadiness({
    daysAtPhase: 200,
    metrics: {
      total: 10,
      counts: { succeeded: 10, failed: 0, rejected: 0, rolled_back: 0, denied: 0, dry_run: 0 },
      successRate: 1,
      errorRate: 0,
      rollbackRate: 0,
      approvalRate: 1,
    },
    criticalAutonomousIncidents: 0,
    enabledBreakerRules: 4,
    killSwitchExercisedWithinDays: 1,
    auditChainIntact: true,
    attestations: Object.fromEntries(READINESS_CHECKLIST.map((i) => [i.key, { passed: true, by: 'a', at: 'x' }])),
  });
  const base = {
    phase: 'L3' as const,
    next: { phase: 'L3+' as const, commands: ['SET_POWER'], validationDays: 14, requiredRoles: ['tech_lead' as const] },
    daysAtPhase: 180,
    currentValidationDays: null,
    readiness: ready,
    unresolvedBreakerEvents: 0,
    openProposals: 0,
  };

  it('expands only when every condition holds', () => {
    expect(decideExpansion(base)).toMatchObject({ expand: true });
    expect(decideExpansion({ ...base, daysAtPhase: 179 })).toEqual({
      expand: false,
      reasons: ['179 days at L3 (minimum 180)'],
    });
    expect(decideExpansion({ ...base, unresolvedBreakerEvents: 1, openProposals: 1 })).toEqual({
      expand: false,
      reasons: ['1 unresolved circuit breaker event(s)', '1 proposal(s) pending or validating'],
    });
    expect(decideExpansion({ ...base, phase: 'L3+', currentValidationDays: 14, daysAtPhase: 14 })).toMatchObject({
      expand: true,
    });
    expect(decideExpansion({ ...base, next: undefined, phase: 'L5' })).toMatchObject({
      expand: false,
      reasons: ['L5 is the last phase'],
    });
  });
});
