import { AuditKind, type AuditKindName } from '../audit/kinds';
import type { PermitBlockReason } from './rules';

export type PermitDecision =
  | { granted: true; permitId: string; symbol: string; issuedAt: string; expiresAt: string }
  | { granted: false; symbol: string; reason: PermitBlockReason; detail: string; disarm: boolean };

export interface PermitRequest {
  key: string;
  dealId: string;
  symbol: string;
  /** The reference instant: workflow time, so windows and TTLs follow the workflow's clock. */
  at: Date;
  actor: string;
}

/** A retry's answer: the permit or the block stored for its key the first time. */
export function priorPermitDecision(
  permit: { id: string; symbol: string; issued_at: Date; expires_at: Date } | undefined,
  block: { symbol: string; reason: string; details: unknown } | undefined,
): PermitDecision | undefined {
  if (permit)
    return {
      granted: true,
      permitId: permit.id,
      symbol: permit.symbol,
      issuedAt: permit.issued_at.toISOString(),
      expiresAt: permit.expires_at.toISOString(),
    };
  if (!block) return undefined;
  const details = block.details as { detail?: string; disarm?: boolean };
  return {
    granted: false,
    symbol: block.symbol,
    reason: block.reason as PermitBlockReason,
    detail: details.detail ?? '',
    disarm: details.disarm ?? false,
  };
}

export interface PermitAuditEntry {
  actor: string;
  kind: AuditKindName;
  subject: string;
  details: Record<string, unknown>;
  idempotencyKey: string;
}

/** The audit events a permit decision owes: one for the decision, one more for a disarm. */
export function permitAudits(request: PermitRequest, decision: PermitDecision): PermitAuditEntry[] {
  if (decision.granted) {
    return [
      {
        actor: request.actor,
        kind: AuditKind.permit.issued,
        subject: `symbol:${decision.symbol}`,
        details: { permitId: decision.permitId, dealId: request.dealId, expiresAt: decision.expiresAt },
        idempotencyKey: `permit:${request.key}`,
      },
    ];
  }
  const blocked: PermitAuditEntry = {
    actor: request.actor,
    kind: AuditKind.permit.blocked,
    subject: `symbol:${decision.symbol}`,
    details: { dealId: request.dealId, reason: decision.reason, detail: decision.detail },
    idempotencyKey: `permit-block:${request.key}`,
  };
  if (!decision.disarm) return [blocked];
  return [
    blocked,
    {
      actor: 'governor',
      kind: AuditKind.governor.autoDisarm,
      subject: `symbol:${decision.symbol}`,
      details: { reason: 'burst_limit_breach', dealId: request.dealId, detail: decision.detail },
      idempotencyKey: `disarm:${request.key}`,
    },
  ];
}

export type ConsumeResult =
  { ok: true } | { ok: false; reason: 'permit_missing' | 'permit_expired' | 'permit_revoked' };

/**
 * Whether a deal may use a permit now. `consume` says whether the row must
 * change: a retry by the same deal of a permit it already used is told yes.
 */
export function decideConsume(
  permit: { deal_id: string; status: string; expires_at: Date } | undefined,
  request: { dealId: string; at: Date },
): ConsumeResult & { consume: boolean } {
  // A permit belongs to one deal: another deal cannot spend it.
  if (!permit || permit.deal_id !== request.dealId) return { ok: false, reason: 'permit_missing', consume: false };
  if (permit.status === 'consumed') return { ok: true, consume: false };
  if (permit.status === 'revoked') return { ok: false, reason: 'permit_revoked', consume: false };
  if (request.at.getTime() > permit.expires_at.getTime())
    return { ok: false, reason: 'permit_expired', consume: false };
  return { ok: true, consume: true };
}
