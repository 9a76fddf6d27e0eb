import { z } from 'zod';
import type { ApproverRole } from '../autonomy/phases';

/**
 * Seed 004's eight role boundaries. `automation` is for machines (Alertmanager,
 * watchdog integrations): it may stop things, never start or release them.
 */
export const ROLES = [
  'owner',
  'manager',
  'risk_officer',
  'operator',
  'engineer',
  'analyst',
  'auditor',
  'automation',
] as const;
export const RoleSchema = z.enum(ROLES, { message: `expected one of ${ROLES.join(', ')}` });
export type Role = z.infer<typeof RoleSchema>;

/** What a request may do; every API route names exactly one. */
export const PERMISSIONS = [
  'read',
  'audit:read',
  'kill_switch:engage',
  'kill_switch:release',
  'go_live:set',
  'apply_mode:set',
  'engine:restrict',
  'proposal:decide',
  'command:decide',
  'playbook:run',
  'session:run',
  'approval_token:issue',
  'policy:set',
  'position:reconcile',
  'deal:reconcile',
  'deal:start',
  'kpi:record',
  'api_key:manage',
  'change:decide',
  'change:request',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const people: readonly Role[] = ROLES.filter((r) => r !== 'automation');
/** Who may approve what others may not undo alone: the kill-switch release and go-live. */
export const RELEASE_APPROVER_ROLES: readonly Role[] = ['owner', 'manager', 'risk_officer'];

/** The RBAC table: permission → the roles that hold it. */
export const RBAC: Record<Permission, readonly Role[]> = {
  read: people,
  'audit:read': ['owner', 'manager', 'risk_officer', 'analyst', 'auditor'],
  // Asymmetric on purpose: stopping is cheap and open to every write role and
  // to automation; releasing takes an approver.
  'kill_switch:engage': ['owner', 'manager', 'risk_officer', 'operator', 'engineer', 'automation'],
  'kill_switch:release': RELEASE_APPROVER_ROLES,
  'go_live:set': ['owner', 'manager'],
  'apply_mode:set': ['owner', 'manager', 'risk_officer'],
  'engine:restrict': ['owner', 'manager', 'risk_officer', 'operator', 'engineer', 'automation'],
  'proposal:decide': ['owner', 'manager', 'operator', 'engineer'],
  'command:decide': ['owner', 'manager', 'operator', 'engineer'],
  'playbook:run': ['owner', 'manager', 'risk_officer', 'operator', 'engineer'],
  'session:run': ['owner', 'manager', 'risk_officer', 'operator', 'engineer'],
  'approval_token:issue': people.filter((r) => r !== 'auditor' && r !== 'analyst'),
  // What an action is and where a position stands are the risk owners' to say.
  'policy:set': ['owner', 'manager', 'risk_officer'],
  'position:reconcile': ['owner', 'manager', 'risk_officer'],
  // Settling or releasing a deal that may have executed: an approver or the risk officer says what happened.
  'deal:reconcile': RELEASE_APPROVER_ROLES,
  // Starting a deal from the operator's side (`warden deal start`): people who run things, never automation.
  'deal:start': ['owner', 'manager', 'operator', 'engineer'],
  // KPI events feed the regression tripwire: producers' integrations and the people who run them.
  'kpi:record': ['owner', 'manager', 'operator', 'engineer', 'automation'],
  // Who holds which role is the owner's to say.
  'api_key:manage': ['owner'],
  // Deciding a change request: people in write roles; the request's own rules say which roles count (and never its requester).
  'change:decide': ['owner', 'manager', 'risk_officer', 'operator', 'engineer'],
  // Opening a change request: every write role and automation (what only tightens applies at once; the rest waits for others).
  'change:request': ['owner', 'manager', 'risk_officer', 'operator', 'engineer', 'automation'],
};

export function allows(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => RBAC[permission].includes(role));
}

/**
 * Seed 002's autonomy approvers map onto the role boundaries: an identity may
 * approve an expansion as tech_lead only if it holds `engineer`, and so on.
 */
export const AUTONOMY_APPROVER_ROLE: Record<ApproverRole, Role> = {
  tech_lead: 'engineer',
  ops_lead: 'operator',
  product_lead: 'manager',
  exec_sponsor: 'owner',
};

export function autonomyRolesOf(roles: readonly Role[]): ApproverRole[] {
  return (Object.keys(AUTONOMY_APPROVER_ROLE) as ApproverRole[]).filter((a) =>
    roles.includes(AUTONOMY_APPROVER_ROLE[a]),
  );
}

export interface Identity {
  /** Who acts: written as the actor of every audit event the request causes. */
  name: string;
  roles: Role[];
  /** The API key that authenticated the request. */
  keyId: string;
}
