import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DealAlreadyStartedError, InvalidRequestError } from '../../client';
import { ConfigError, loadConfig } from '../../config/index';
import { DatabaseLockedError } from '../../db/connect';
import { controlPlaneCommands } from './control-plane-commands';
import { dealCommands } from './deal-commands';
import { watchdogCommands } from './watchdog-commands';
import { autonomyCommands } from './autonomy-commands';
import { strategyCommands } from './strategy-commands';
import { notificationCommands } from './notification-commands';
import { reviewCommands } from './review-commands';
import { goLiveCommands } from './go-live-commands';
import { identityCommands } from './identity-commands';
import { policyCommands } from './policy-commands';
import { commandPolicyCommands } from './command-policy-commands';
import { EXIT, options, out, UsageError } from './shared';

const USAGE = `usage: warden <command> [options]

control plane
  status [--json]                                   go-live, kill switch, apply mode
  go-live on|off [--reason R]                       turn production execution on or off
  kill-switch engage --reason R [--source S]        stop PROD_EXEC now
  kill-switch release|decline --role R --reason R [--token T]
                                                    an approver's vote on releasing it (cooldown, approvals: see README)
  apply-mode dry_run|testnet|live [--reason R]
deals and gates
  deal start --deal-id ID --engine E --symbol S --amount N [--domain D] [--recommendation-id U] [--class C]
             [--strategy S --side buy|sell --position N] [--wait]
  deal reconcile ID --executed true|false [--realized-loss N] [--external-id X] --reason R [--workflow-id W]
                                                    settle or release a deal waiting in needs_reconciliation
  deals orphans                                     reservations and permits held by closed deal workflows
  risk policies | ledger [--date D] | set-policy ENGINE [--max-daily-loss N|none] [--max-daily-exposure N|none]
       [--max-open-risk N|none] [--max-actions-per-day N|none] [--enabled true|false]
  engine-policies list | set ENGINE [--class OBSERVE_ONLY|SANDBOX_EXEC|PROD_EXEC] [--strategy-required true|false]
       [--recommendation-required true|false] --reason R   what a deal on the engine is (audited)
  positions list [--strategy S | --engine E] | set (--strategy S | --engine E) --symbol SYM --quantity N --reason R
                                                    Warden's net positions; set reconciles one (audited)
  heimdall scorecard [--date D]
  permits [--symbol S]
watchdogs
  tripwire status | evaluate | reset DOMAIN/metric --reason R
  tripwire set-policy DOMAIN/metric [--enabled true|false] [--window N] [--baseline N] [--max-drop F] [--action THROTTLE|PAUSE|KILL_SWITCH] [--engine E]
  restrictions [--all] | add throttle|pause ENGINE --reason R | clear ID --reason R
  canary status
  kpi record --domain D --metric m [--success true|false] [--value N]
  schedules apply                                   create or update the watchdog schedules
autonomy
  autonomy status                                   phase, whitelist, paused command types, approvers
  proposals [--pending] | proposal approve|reject ID --role R --approver A [--comment C | --reason R]
  proposal create --role R --reason R   (next phase, on its own terms; someone else approves)
  readiness                                         the 80-point checklist, with blockers
  breakers [rules | events [--pending] | resolve ID --reason R | set-rule NAME [--condition C] [--window W] [--action A] [--severity S] [--enabled true|false]]
  attest ITEM [--passed true|false] [--note N]     an operator's attestation of a checklist item
  approvers add ROLE NAME                           who may approve for a role
  cycle run                                         run the weekly governance cycle now
  command-policies list | set TYPE --class OBSERVE_ONLY|SANDBOX_EXEC|PROD_EXEC --reason R
                                                    what a command type is (audited); any other type is PROD_EXEC
strategies (seed 001)
  strategy status ID | enable ID [--capital N] [--token-required true|false] [--health-floor F] | disable ID   (new: L0)
  strategy promote ID --role R --reason R   (proposes one level up; someone else approves the strategyPromotion)
  strategy demote|pause|resume ID --reason R   (demote is immediate; --level to skip levels down)
  tokens issue --strategy S --max-notional N [--symbols A,B|*] [--actions buy,sell] [--ttl SECONDS] | revoke ID | revoke --strategy S | list [--strategy S]
go-live playbook and operator sessions (seed 004)
  playbook start|status|steps [--id ID]             the nine guided steps before go-live can be turned on
  playbook step STEP --evidence E [--role R] [--token T] [--id ID]
  playbook abandon --reason R [--id ID]
  session start [--notes N] | end [--notes N] [--operator O] | list [--active]
review
  review [--since 7d|2026-11-30|ISO] [--json]        what broke, was denied, drifted, waits for approval; band and health
identities (seed 004)
  keys create --identity NAME --roles owner,manager,… | list | revoke ID --reason R
  approvals token [--key wk_…]                      a short-lived signed approval token (WARDEN_API_KEY by default)
records
  notifications [--pending] [--json]                alerts queued for the webhooks, with each delivery's status
  audit verify [--json]                             walk the audit hash chain
  migrate [--down [--all]]                          apply (or roll back) database migrations

  --actor A   who acts (default: $WARDEN_ACTOR or your user name)     --json   machine-readable output
environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, WARDEN_TASK_QUEUE, DATABASE_URL, WARDEN_DATA_DIR`;

const commands = {
  ...controlPlaneCommands,
  ...dealCommands,
  ...watchdogCommands,
  ...autonomyCommands,
  ...strategyCommands,
  ...reviewCommands,
  ...notificationCommands,
  ...goLiveCommands,
  ...identityCommands,
  ...policyCommands,
  ...commandPolicyCommands,
};

async function run(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [name, ...args] = positionals;
  if (flags.help || name === undefined || name === 'help') {
    out(USAGE);
    return name === undefined && !flags.help ? EXIT.usage : EXIT.ok;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command ${name}; run warden help`);
  return command({ config: loadConfig(), flags, args });
}

function isUsage(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    error instanceof InvalidRequestError ||
    error instanceof ConfigError ||
    error instanceof DealAlreadyStartedError ||
    String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
  );
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    let message = error instanceof Error ? error.message : String(error);
    if (error instanceof WorkflowNotFoundError)
      message = 'the control plane is not running: start Warden with npm start';
    if (error instanceof DatabaseLockedError) message = error.message;
    process.stderr.write(`warden: ${message}\n`);
    process.exit(isUsage(error) ? EXIT.usage : EXIT.failure);
  },
);
