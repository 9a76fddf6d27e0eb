import type { AutonomyMetrics } from './metrics';

export type ReadinessCategory = 'technical' | 'process' | 'organizational';

export interface ChecklistItem {
  key: string;
  category: ReadinessCategory;
  group: string;
  name: string;
  points: number;
  required: boolean;
  /** data: computed from metrics, incidents and records; attestation: an operator says so (who and when kept). */
  source: 'data' | 'attestation';
}

/** Seed 002's 80-point checklist, item for item. */
export const READINESS_CHECKLIST: ChecklistItem[] = [
  {
    key: 'months_at_phase',
    category: 'technical',
    group: 'Command Performance',
    name: '6+ months at current phase',
    points: 5,
    required: true,
    source: 'data',
  },
  {
    key: 'success_rate',
    category: 'technical',
    group: 'Command Performance',
    name: 'Success rate > 99.5%',
    points: 5,
    required: true,
    source: 'data',
  },
  {
    key: 'approval_rate',
    category: 'technical',
    group: 'Command Performance',
    name: 'Approval rate > 80%',
    points: 3,
    required: false,
    source: 'data',
  },
  {
    key: 'rollback_rate',
    category: 'technical',
    group: 'Command Performance',
    name: 'Rollback rate < 2%',
    points: 2,
    required: false,
    source: 'data',
  },
  {
    key: 'eval_coverage',
    category: 'technical',
    group: 'Safety & Testing',
    name: 'Eval coverage > 90%',
    points: 5,
    required: true,
    source: 'attestation',
  },
  {
    key: 'zero_critical_incidents',
    category: 'technical',
    group: 'Safety & Testing',
    name: 'Zero critical incidents from autonomous actions',
    points: 5,
    required: true,
    source: 'data',
  },
  {
    key: 'circuit_breakers_configured',
    category: 'technical',
    group: 'Infrastructure',
    name: 'Circuit breakers configured',
    points: 3,
    required: true,
    source: 'data',
  },
  {
    key: 'monitoring_in_place',
    category: 'technical',
    group: 'Infrastructure',
    name: 'Monitoring in place',
    points: 3,
    required: true,
    source: 'attestation',
  },
  {
    key: 'kill_switch_tested',
    category: 'technical',
    group: 'Infrastructure',
    name: 'Kill switch tested',
    points: 2,
    required: false,
    source: 'data',
  },
  {
    key: 'chaos_testing',
    category: 'technical',
    group: 'Infrastructure',
    name: 'Chaos testing completed',
    points: 2,
    required: false,
    source: 'attestation',
  },
  {
    key: 'runbooks',
    category: 'process',
    group: 'Documentation',
    name: 'Runbooks complete',
    points: 5,
    required: true,
    source: 'attestation',
  },
  {
    key: 'incident_playbooks',
    category: 'process',
    group: 'Documentation',
    name: 'Incident playbooks',
    points: 3,
    required: false,
    source: 'attestation',
  },
  {
    key: 'architecture_docs',
    category: 'process',
    group: 'Documentation',
    name: 'Architecture docs updated',
    points: 2,
    required: false,
    source: 'attestation',
  },
  {
    key: 'escalation_path',
    category: 'process',
    group: 'Approval Workflow',
    name: 'Clear escalation path',
    points: 4,
    required: true,
    source: 'attestation',
  },
  {
    key: 'stakeholder_signoff',
    category: 'process',
    group: 'Approval Workflow',
    name: 'Stakeholder sign-off',
    points: 4,
    required: true,
    source: 'attestation',
  },
  {
    key: 'security_review',
    category: 'process',
    group: 'Compliance',
    name: 'Security review',
    points: 3,
    required: false,
    source: 'attestation',
  },
  {
    key: 'audit_trail',
    category: 'process',
    group: 'Compliance',
    name: 'Audit trail implementation',
    points: 2,
    required: false,
    source: 'data',
  },
  {
    key: 'rollback_plan',
    category: 'process',
    group: 'Compliance',
    name: 'Rollback plan documented',
    points: 2,
    required: false,
    source: 'attestation',
  },
  {
    key: 'oncall_trained',
    category: 'organizational',
    group: 'Team Readiness',
    name: 'On-call rotation trained',
    points: 6,
    required: true,
    source: 'attestation',
  },
  {
    key: 'team_consensus',
    category: 'organizational',
    group: 'Team Readiness',
    name: 'Team consensus achieved',
    points: 6,
    required: true,
    source: 'attestation',
  },
  {
    key: 'product_approval',
    category: 'organizational',
    group: 'Stakeholder Buy-in',
    name: 'Product approval',
    points: 4,
    required: true,
    source: 'attestation',
  },
  {
    key: 'ops_approval',
    category: 'organizational',
    group: 'Stakeholder Buy-in',
    name: 'Ops approval',
    points: 4,
    required: true,
    source: 'attestation',
  },
];

export const ATTESTABLE_ITEMS = READINESS_CHECKLIST.filter((i) => i.source === 'attestation').map((i) => i.key);

export interface ReadinessEvidence {
  daysAtPhase: number;
  metrics: AutonomyMetrics;
  criticalAutonomousIncidents: number;
  enabledBreakerRules: number;
  killSwitchExercisedWithinDays: number | null;
  auditChainIntact: boolean;
  /** Latest attestation per item. */
  attestations: Record<string, { passed: boolean; by: string; at: string } | undefined>;
}

export type ReadinessStatus = 'Ready' | 'Almost Ready' | 'Needs Work';

export interface ReadinessReport {
  score: number;
  max: 80;
  scoreFraction: number;
  categories: Record<ReadinessCategory, { earned: number; max: number }>;
  allRequiredPassed: boolean;
  status: ReadinessStatus;
  items: (ChecklistItem & { passed: boolean; evidence: string })[];
  blockers: string[];
}

function dataItem(key: string, e: ReadinessEvidence): { passed: boolean; evidence: string } {
  const pct = (v: number | null) => (v === null ? 'no data' : `${(v * 100).toFixed(2)}%`);
  switch (key) {
    case 'months_at_phase':
      return { passed: e.daysAtPhase >= 180, evidence: `${Math.floor(e.daysAtPhase)} days at phase (need 180)` };
    case 'success_rate':
      return {
        passed: e.metrics.successRate !== null && e.metrics.successRate > 0.995,
        evidence: `success rate ${pct(e.metrics.successRate)}`,
      };
    case 'approval_rate':
      return {
        passed: e.metrics.approvalRate !== null && e.metrics.approvalRate > 0.8,
        evidence: `approval rate ${pct(e.metrics.approvalRate)}`,
      };
    case 'rollback_rate':
      return {
        passed: e.metrics.rollbackRate !== null && e.metrics.rollbackRate < 0.02,
        evidence: `rollback rate ${pct(e.metrics.rollbackRate)}`,
      };
    case 'zero_critical_incidents':
      return {
        passed: e.criticalAutonomousIncidents === 0,
        evidence: `${e.criticalAutonomousIncidents} critical incident(s) from autonomous actions`,
      };
    case 'circuit_breakers_configured':
      return { passed: e.enabledBreakerRules > 0, evidence: `${e.enabledBreakerRules} enabled breaker rule(s)` };
    case 'kill_switch_tested':
      return {
        passed: e.killSwitchExercisedWithinDays !== null && e.killSwitchExercisedWithinDays <= 90,
        evidence:
          e.killSwitchExercisedWithinDays === null
            ? 'kill switch never engaged'
            : `kill switch last engaged ${Math.floor(e.killSwitchExercisedWithinDays)} days ago (need ≤ 90)`,
      };
    case 'audit_trail':
      return {
        passed: e.auditChainIntact,
        evidence: e.auditChainIntact ? 'audit hash chain verifies' : 'audit hash chain broken',
      };
    default:
      throw new Error(`no data rule for ${key}`);
  }
}

/**
 * Seed 002: Ready at ≥ 76/80 with every required item; Almost Ready at 72–75
 * (or 76+ with a required item missing); Needs Work below 72.
 */
export function assessReadiness(e: ReadinessEvidence): ReadinessReport {
  const items = READINESS_CHECKLIST.map((item) => {
    if (item.source === 'data') return { ...item, ...dataItem(item.key, e) };
    const a = e.attestations[item.key];
    return {
      ...item,
      passed: a?.passed ?? false,
      evidence: a ? `${a.passed ? 'attested' : 'attested NOT met'} by ${a.by} at ${a.at}` : 'not attested',
    };
  });
  const score = items.filter((i) => i.passed).reduce((s, i) => s + i.points, 0);
  const categories = {
    technical: { earned: 0, max: 0 },
    process: { earned: 0, max: 0 },
    organizational: { earned: 0, max: 0 },
  };
  for (const i of items) {
    categories[i.category].max += i.points;
    if (i.passed) categories[i.category].earned += i.points;
  }
  const missingRequired = items.filter((i) => i.required && !i.passed);
  const allRequiredPassed = missingRequired.length === 0;
  const status: ReadinessStatus =
    score >= 76 && allRequiredPassed ? 'Ready' : score >= 72 ? 'Almost Ready' : 'Needs Work';
  const blockers = [
    ...(score < 76 ? [`score ${score}/80 is below 76 (95%)`] : []),
    ...missingRequired.map((i) => `required: ${i.name} (${i.evidence})`),
  ];
  return { score, max: 80, scoreFraction: score / 80, categories, allRequiredPassed, status, items, blockers };
}
