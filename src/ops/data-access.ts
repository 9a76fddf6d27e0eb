import type { Kysely } from 'kysely';
import { verifyAuditChain } from '../db/audit.repository';
import type { Database } from '../db/database';
import { listScorecards } from '../db/heimdall.repository';
import { listPermits } from '../db/permits.repository';
import { ledgerReport, listRiskPolicies, upsertRiskPolicy } from '../db/risk.repository';
import type { RiskPolicy } from '../risk/rules';

/**
 * What operators read and edit outside workflows. Every result is plain JSON,
 * so the same calls work in-process or through a running Warden's local ops
 * endpoint (the embedded database admits one process only).
 */
export function createDataAccess(db: Kysely<Database>) {
  return {
    listRiskPolicies: () => listRiskPolicies(db),
    ledgerReport: (day: string) => ledgerReport(db, day),
    upsertRiskPolicy: (policy: RiskPolicy, actor: string) => upsertRiskPolicy(db, policy, actor),
    listScorecards: (day: string) => listScorecards(db, day),
    listPermits: (filter: { symbol?: string }) => listPermits(db, filter),
    verifyAuditChain: () => verifyAuditChain(db),
  };
}

export type DataAccess = ReturnType<typeof createDataAccess>;
export type DataMethod = keyof DataAccess;
export const DATA_METHODS = ['listRiskPolicies', 'ledgerReport', 'upsertRiskPolicy', 'listScorecards', 'listPermits', 'verifyAuditChain'] as const satisfies readonly DataMethod[];
