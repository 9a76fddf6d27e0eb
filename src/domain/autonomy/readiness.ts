import type { AutonomyMetrics } from './metrics';
import { type ChecklistItem, READINESS_CHECKLIST, type ReadinessCategory } from './readiness-checklist';

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
