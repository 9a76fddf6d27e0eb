// The playbook's step ids, apart from its schemas and rules: an approval token names them (identity/
// audience.ts), and a deal's workflow, which reads approvals, evaluates no more of the playbook than this.
/**
 * Seed 004 PACK H: nine concrete launch steps, taken in order. Band-aware:
 * each names the worst capital band it tolerates. Status-aware: RED health
 * blocks every step but preflight, which is where an operator finds out why
 * health is red. The checks are seed 000's deployment checklist.
 */
export const PLAYBOOK_STEP_IDS = [
  'preflight',
  'risk_policies_reviewed',
  'prod_gates_reviewed',
  'watchdogs_running',
  'kill_switch_drill',
  'alerts_routed',
  'dry_run_reviewed',
  'capital_band_confirmed',
  'sign_off',
] as const;
