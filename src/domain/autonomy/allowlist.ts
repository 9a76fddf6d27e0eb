// Who may approve: one small module, so a workflow that checks an approver (the deal's approval inbox)
// does not build the proposal schemas to do it.

export type ApprovalCheck = { ok: true } | { ok: false; reason: string };

/** Whether `approver` is on Warden's allowlist for `role` (the approver table, read at decision time). */
export function onAllowlist(
  allowlist: Readonly<Record<string, readonly string[]>>,
  role: string,
  approver: string,
): ApprovalCheck {
  return (allowlist[role] ?? []).includes(approver)
    ? { ok: true }
    : { ok: false, reason: `approver: ${approver} is not on the allowlist for ${role}` };
}
