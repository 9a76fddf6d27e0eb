import type { Kysely } from 'kysely';
import type { CapitalBandThresholds } from '../../domain/capital/bands';
import { buildReview } from '../review/monday-review';
import { recordAuditEvent, verifyAuditChain } from '../../db/audit.repository';
import { AuditKind } from '../../domain/audit/kinds';
import { authenticateApiKey, createApiKey, listApiKeys, revokeApiKey } from '../../db/api-keys.repository';
import type { Role } from '../../domain/identity/roles';
import type { Database } from '../../db/database';
import { listOperatorSessions } from '../../db/operator-sessions.repository';
import { listNotifications } from '../../db/notifications.repository';
import { listScorecards } from '../../db/heimdall.repository';
import { listPermits } from '../../db/permits.repository';
import { listDealHoldings } from '../../db/deal-claims.repository';
import { ledgerReport, listRiskPolicies, upsertRiskPolicy } from '../../db/risk.repository';
import { listExecutionPolicies, readExecutionPolicy, setExecutionPolicy } from '../../db/execution-policies.repository';
import { listPositions, reconcilePosition } from '../../db/positions.repository';
import type { PositionScope, ReconcilePositionInput, SetExecutionPolicyInput } from '../../domain/deals/policy';
import type { RiskPolicy } from '../../domain/risk/rules';
import { recordKpiEvent } from '../../db/kpi.repository';
import {
  canaryStates,
  listRegressionPolicies,
  listRestrictions,
  regressionStates,
  resetTripwire,
  setRegressionPolicy,
} from '../../db/watchdogs.repository';
import type { RegressionPolicy } from '../../domain/watchdogs/tripwire';
import { issueToken, listTokens, revokeTokens } from '../../db/execution-tokens.repository';
import {
  demoteStrategy,
  proposePromotion,
  type Strategy,
  strategyReport,
  upsertStrategy,
} from '../../db/strategy.repository';
import type { MaturityLevel } from '../../domain/strategy/rules';
import type { BreakerRule } from '../../domain/autonomy/breakers';
import { type CommandPolicyChange, CommandPolicyChangeSchema } from '../../domain/autonomy/commands';
import { listCommandPolicies, setCommandPolicy } from '../../db/command-policies.repository';
import type { ApproverRole } from '../../domain/autonomy/phases';
import { addApprover, listApprovers, loadPhaseDefinitions, readGovernanceState } from '../../db/autonomy.repository';
import { assessAndStoreReadiness, attest } from '../../db/governance-reports.repository';
import { listBreakerEvents, listBreakerRules, resolveBreakerEvent, setBreakerRule } from '../../db/breakers.repository';
import { listProposals, proposeExpansion } from '../../db/expansion-proposals.repository';

/**
 * What operators read and edit outside workflows. Every result is plain JSON,
 * so the same calls work in-process or through a running Warden's local ops
 * endpoint (the embedded database admits one process only).
 */
export function createDataAccess(db: Kysely<Database>) {
  return {
    createApiKey: (input: { identity: string; roles: Role[]; actor: string }) => createApiKey(db, input),
    listApiKeys: () => listApiKeys(db),
    revokeApiKey: (id: string, actor: string, reason: string) => revokeApiKey(db, id, actor, reason),
    authenticateApiKey: (key: string) => authenticateApiKey(db, key),
    recordApprovalTokenIssued: (input: {
      subject: string;
      tokenId: string;
      roles: Role[];
      expiresAt: string;
      keyId: string;
    }) =>
      recordAuditEvent(db, {
        actor: input.subject,
        kind: AuditKind.approvalToken.issued,
        subject: `approval_token:${input.tokenId}`,
        details: { roles: input.roles, expiresAt: input.expiresAt, keyId: input.keyId },
      }).then(() => undefined),
    listRiskPolicies: () => listRiskPolicies(db),
    ledgerReport: (day: string) => ledgerReport(db, day),
    upsertRiskPolicy: (policy: RiskPolicy, actor: string) => upsertRiskPolicy(db, policy, actor),
    listExecutionPolicies: () => listExecutionPolicies(db),
    readExecutionPolicy: (engine: string) => readExecutionPolicy(db, engine),
    setExecutionPolicy: (input: SetExecutionPolicyInput) => setExecutionPolicy(db, input),
    listPositions: (filter: { scope?: PositionScope; scopeId?: string }) => listPositions(db, filter),
    reconcilePosition: (input: ReconcilePositionInput) => reconcilePosition(db, input),
    listScorecards: (day: string) => listScorecards(db, day),
    listPermits: (filter: { symbol?: string }) => listPermits(db, filter),
    listDealHoldings: () => listDealHoldings(db),
    verifyAuditChain: () => verifyAuditChain(db),
    listRegressionPolicies: () => listRegressionPolicies(db),
    setRegressionPolicy: (policy: RegressionPolicy, actor: string) => setRegressionPolicy(db, policy, actor),
    regressionStates: () => regressionStates(db),
    // Re-arms the tripwire only: what it restricted is lifted through the control plane (the one writer).
    resetTripwire: (policy: { domain: string; metric: string }, actor: string, reason: string) =>
      resetTripwire(db, policy, actor, reason, { liftRestrictions: false }),
    listRestrictions: (activeOnly: boolean) => listRestrictions(db, { activeOnly }),
    canaryStates: () => canaryStates(db),
    recordKpi: (event: { domain: string; metric: string; success?: boolean; value?: number; source: string }) =>
      recordKpiEvent(db, event),
    autonomyStatus: async () => ({
      state: await readGovernanceState(db),
      phases: await loadPhaseDefinitions(db),
      approvers: await listApprovers(db),
    }),
    listProposals: (openOnly: boolean) => listProposals(db, { openOnly }),
    assessReadiness: () => assessAndStoreReadiness(db, new Date()),
    listBreakerRules: () => listBreakerRules(db),
    setBreakerRule: (rule: BreakerRule, actor: string) => setBreakerRule(db, rule, actor),
    listBreakerEvents: (unresolvedOnly: boolean) => listBreakerEvents(db, { unresolvedOnly }),
    resolveBreakerEvent: (id: string, actor: string, resolution: string) =>
      resolveBreakerEvent(db, id, actor, resolution),
    attest: (input: { item: string; passed: boolean; note?: string; actor: string }) => attest(db, input),
    addApprover: (role: ApproverRole, approver: string, actor: string) => addApprover(db, role, approver, actor),
    listCommandPolicies: () => listCommandPolicies(db),
    // Parsed again here: the local ops endpoint passes arguments through as JSON.
    setCommandPolicy: (change: CommandPolicyChange) => setCommandPolicy(db, CommandPolicyChangeSchema.parse(change)),
    strategyReport: (id: string) => strategyReport(db, id),
    upsertStrategy: (strategy: Strategy, actor: string, reason: string) => upsertStrategy(db, strategy, actor, reason),
    /** Lowering applies at once; raising is refused here (it goes through proposePromotion and its workflow). */
    demoteStrategy: (input: { id: string; to: MaturityLevel; actor: string; reason: string }) =>
      demoteStrategy(db, input),
    /** Warden's record of an operator's promotion proposal; the caller starts its strategyPromotion workflow. */
    proposePromotion: async (input: {
      strategyId: string;
      requestedBy: string;
      role: ApproverRole;
      reason: string;
      expiresInDays?: number;
    }) => proposePromotion(db, input, await listApprovers(db)),
    /** Warden's record of an operator's expansion proposal; the caller starts its expansionProposal workflow. */
    proposeExpansion: (input: { requestedBy: string; role: ApproverRole; reason: string; expiresInDays?: number }) =>
      proposeExpansion(db, input),
    issueToken: (input: {
      strategyId: string;
      symbols: string[];
      maxNotional: number;
      actions: ('buy' | 'sell')[];
      ttlSeconds: number;
      actor: string;
    }) => issueToken(db, input),
    revokeTokens: (target: { tokenId: string } | { strategyId: string }, actor: string) =>
      revokeTokens(db, target, actor),
    listTokens: (strategyId?: string) => listTokens(db, strategyId),
    listOperatorSessions: (activeOnly: boolean) => listOperatorSessions(db, { activeOnly }),
    listNotifications: (filter: { limit?: number; pendingOnly?: boolean }) => listNotifications(db, filter),
    review: (input: { since: string; until?: string; capitalBands: CapitalBandThresholds; canaryThreshold?: number }) =>
      buildReview(db, {
        ...input,
        since: new Date(input.since),
        until: input.until === undefined ? undefined : new Date(input.until),
      }),
  };
}

export type DataAccess = ReturnType<typeof createDataAccess>;
export type DataMethod = keyof DataAccess;
export const DATA_METHODS = [
  'createApiKey',
  'listApiKeys',
  'revokeApiKey',
  'authenticateApiKey',
  'recordApprovalTokenIssued',
  'listRiskPolicies',
  'ledgerReport',
  'upsertRiskPolicy',
  'listExecutionPolicies',
  'readExecutionPolicy',
  'setExecutionPolicy',
  'listPositions',
  'reconcilePosition',
  'listScorecards',
  'listPermits',
  'listDealHoldings',
  'verifyAuditChain',
  'listRegressionPolicies',
  'setRegressionPolicy',
  'regressionStates',
  'resetTripwire',
  'listRestrictions',
  'canaryStates',
  'recordKpi',
  'autonomyStatus',
  'listProposals',
  'assessReadiness',
  'listBreakerRules',
  'setBreakerRule',
  'listBreakerEvents',
  'resolveBreakerEvent',
  'attest',
  'addApprover',
  'listCommandPolicies',
  'setCommandPolicy',
  'strategyReport',
  'upsertStrategy',
  'demoteStrategy',
  'proposePromotion',
  'proposeExpansion',
  'issueToken',
  'revokeTokens',
  'listTokens',
  'listOperatorSessions',
  'listNotifications',
  'review',
] as const satisfies readonly DataMethod[];
