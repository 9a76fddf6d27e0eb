import { parseArgs } from 'node:util';
import { InvalidRequestError } from '../../domain/shared/validation';
import { ConfigError, loadConfig } from '../../config/index';
import { EXIT, type Invocation, options, out, UsageError } from './shared';
import { createCaller, IdentityError, OperationFailed } from './transport';

const USAGE = `usage: warden <command> [options]

control plane
  status [--json]                                   go-live, trading state (active|reducing|halted), kill switch, apply mode
  go-live on|off [--reason R]                       turn production execution on or off
  kill-switch engage [--mode halt|reduce] --reason R
                                                    stop PROD_EXEC now; reduce lets exits and safe_in_reduce commands run
  kill-switch release|decline [--role R] [--mode reduce] --reason R
                                                    an approver's vote on releasing it, or (--mode reduce) on loosening
                                                    a halt to reduce (cooldown, approvals: see README)
  apply-mode dry_run|testnet|live [--reason R]
deals and gates
  deal start --deal-id ID --engine E --symbol S --amount N [--domain D] [--recommendation-id U] [--class C]
             [--strategy S --side buy|sell --position N] [--wait]
  deal reconcile ID --executed true|false [--realized-loss N] [--external-id X] --reason R [--workflow-id W]
                                                    settle (at once) or release (a change request others approve)
                                                    a deal waiting in needs_reconciliation
  deals list [--outcome O] [--engine E] [--gate G]  deals by outcome, engine, symbol, strategy, gate (a visibility query)
  deals orphans                                     reservations and permits held by closed deal workflows
  deals reconcile [ID --executed true|false …]       deals whose outcome is unknown (age, reserved, attempts);
                                                    with an ID, as deal reconcile
  risk policies | ledger [--date D] | set-policy ENGINE [--max-daily-loss N|none] [--max-daily-exposure N|none]
       [--max-open-risk N|none] [--max-actions-per-day N|none] [--enabled true|false]
       [--exits-ignore-loss-cap true|false]        (on lets exits pass a reached daily-loss cap: a change request)
  engine-policies list | set ENGINE [--class OBSERVE_ONLY|SANDBOX_EXEC|PROD_EXEC] [--strategy-required true|false]
       [--recommendation-required true|false] --reason R   what a deal on the engine is (audited)
  positions list [--strategy S | --engine E] | set (--strategy S | --engine E) --symbol SYM --quantity N --reason R
                                                    Warden's net positions with the deals that built them;
                                                    set reconciles one (audited)
  heimdall scorecard [--date D] | set DOMAIN [--prod-use true|false] [--min-confidence F] [--min-trials N]
       [--min-success-rate F]                        prod eligibility per domain (on, or looser: a change request)
  permits [--symbol S]
watchdogs
  tripwire status | evaluate | reset DOMAIN/metric --reason R
  tripwire set-policy DOMAIN/metric [--enabled true|false] [--window N] [--baseline N] [--max-drop F] [--action THROTTLE|PAUSE|REDUCE_ONLY|KILL_SWITCH] [--engine E]
  restrictions [--all] | add throttle|pause ENGINE --reason R | clear ID --reason R
  canary status
  kpi record --domain D --metric m [--success true|false] [--value N]
  schedules apply                                   create or update the watchdog schedules
autonomy
  autonomy status                                   phase, whitelist, paused command types, approvers
  proposals [--pending] | proposal approve|reject ID --role R [--comment C | --reason R]
  proposal create --role R --reason R   (next phase, on its own terms; someone else approves)
  readiness                                         the 80-point checklist, with blockers
  breakers [rules | events [--pending] | resolve ID --reason R | set-rule NAME [--condition C] [--window W] [--action A] [--severity S] [--enabled true|false]]
  attest ITEM [--passed true|false] [--note N]     an operator's attestation of a checklist item
  approvers add|remove ROLE NAME [--reason R]       who may approve for a role (adding one is a change request)
  cycle run                                         run the weekly governance cycle now
  week [status] [--week 2026-W49]                   this ISO week's governance: review, holds, notes, Friday
  week hold --scope expansion|promotions|all --reason R | release --reason R [--role R] (an approver, not who held)
  week ack [--note N] | note --text T               acknowledge the Monday review; a note on the week
  command-policies list | set TYPE --class OBSERVE_ONLY|SANDBOX_EXEC|PROD_EXEC [--safe-in-reduce true|false] --reason R
                                                    what a command type is (audited); any other type is PROD_EXEC
strategies (seed 001)
  strategy status ID | enable ID [--capital N] [--token-required true|false] [--health-floor F] | disable ID   (new: L0)
  strategy promote ID --role R --reason R   (proposes one level up; someone else approves the strategyPromotion)
  strategy demote|pause|resume ID --reason R   (demote is immediate; --level to skip levels down)
  tokens issue --strategy S --max-notional N [--symbols A,B|*] [--actions buy,sell] [--ttl SECONDS] | revoke ID | revoke --strategy S | list [--strategy S]
go-live playbook and operator sessions (seed 004)
  playbook start|status|steps [--id ID]             the nine guided steps before go-live can be turned on
  playbook step STEP --evidence E [--role R] [--id ID]
  playbook abandon --reason R [--id ID]
  session start [--notes N] | end [--notes N] [--operator O] | list [--active]   (your own session)
policy as code and change requests (what loosens waits for someone else's approval)
  policy export [--json]                            the governed state as YAML: warden policy export > policies.yaml
  policy plan -f FILE                               what FILE changes (applies now / needs approval), and the last
                                                    7 days of deals and commands replayed under it
  policy apply -f FILE [--reason R]                 the tightening part applies now; the rest opens one change request
  change list [--status S] | show ID                change requests and the approvals they wait for
  change approve ID [--role R] [--comment C] | reject ID --reason R [--role R]   (never your own; R: your key's role)
  change edit ID -f FILE [--reason R] | cancel ID --reason R                   (your own; an edit revokes approvals)
review
  review [--since 7d|2026-11-30|ISO] [--json]        what broke, was denied, drifted, waits for approval; band and health
identities (seed 004)
  keys create --identity NAME --roles owner,manager,… | list | revoke ID --reason R
  approvals token --for WORKFLOW_ID:ACTION          a short-lived approval token for one target, for the Temporal CLI/UI
records
  notifications [--pending] [--json]                alerts queued for the webhooks, with each delivery's status
  audit verify [--json]                             walk the audit hash chain
  migrate [--down [--all]]                          apply (or roll back) database migrations

who acts: the identity of your API key (--key wk_…, $WARDEN_API_KEY, or a 0600 profile file $WARDEN_PROFILE,
  default ~/.config/warden/profile.json, holding {"apiUrl", "key"}), through the API at $WARDEN_API_URL
  (default http://127.0.0.1:8080). Without a key: refused against PostgreSQL (DATABASE_URL), except migrate,
  audit verify and the first owner key (keys create while none exists); on npm start's embedded database, the
  local owner.
  --json   machine-readable output
environment: WARDEN_API_KEY, WARDEN_API_URL, WARDEN_PROFILE, DATABASE_URL, WARDEN_DATA_DIR, TEMPORAL_ADDRESS`;

type Command = (inv: Invocation) => Promise<number>;
type Group = Promise<Record<string, Command>>;

/**
 * Each command, and the module that runs it: loaded when called, so a call initialises only its own
 * commands' schemas (a CLI call is mostly start-up). A test holds this table to each module's exports.
 */
export const COMMAND_MODULES: Record<string, () => Group> = Object.fromEntries(
  (
    [
      [
        ['status', 'go-live', 'kill-switch', 'apply-mode', 'audit', 'migrate'],
        () => import('./control-plane-commands').then((m) => m.controlPlaneCommands),
      ],
      [['risk', 'heimdall', 'permits', 'deal', 'deals'], () => import('./deal-commands').then((m) => m.dealCommands)],
      [
        ['tripwire', 'restrictions', 'canary', 'kpi', 'schedules'],
        () => import('./watchdog-commands').then((m) => m.watchdogCommands),
      ],
      [
        ['autonomy', 'proposals', 'proposal', 'readiness', 'breakers', 'attest', 'approvers', 'cycle'],
        () => import('./autonomy-commands').then((m) => m.autonomyCommands),
      ],
      [['strategy', 'tokens'], () => import('./strategy-commands').then((m) => m.strategyCommands)],
      [['review'], () => import('./review-commands').then((m) => m.reviewCommands)],
      [['week'], () => import('./week-commands').then((m) => m.weekCommands)],
      [['notifications'], () => import('./notification-commands').then((m) => m.notificationCommands)],
      [['playbook', 'session'], () => import('./go-live-commands').then((m) => m.goLiveCommands)],
      [['keys', 'approvals'], () => import('./identity-commands').then((m) => m.identityCommands)],
      [['engine-policies', 'positions'], () => import('./policy-commands').then((m) => m.policyCommands)],
      [['command-policies'], () => import('./command-policy-commands').then((m) => m.commandPolicyCommands)],
      [['policy'], () => import('./policy-file-commands').then((m) => m.policyFileCommands)],
      [['change'], () => import('./change-commands').then((m) => m.changeCommands)],
    ] as [string[], () => Group][]
  ).flatMap(([names, load]) => names.map((name) => [name, load])),
);

async function run(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [name, ...args] = positionals;
  if (flags.help || name === undefined || name === 'help') {
    out(USAGE);
    return name === undefined && !flags.help ? EXIT.usage : EXIT.ok;
  }
  const load = Object.hasOwn(COMMAND_MODULES, name) ? COMMAND_MODULES[name] : undefined;
  const command = load ? (await load())[name] : undefined;
  if (!command) throw new UsageError(`unknown command ${name}; run warden help`);
  const config = loadConfig();
  // Database tooling needs no key, holding the database's own credentials: `audit verify`, and the first key.
  const tooling = name === 'audit' ? 'audit' : name === 'keys' && args[0] === 'create' ? 'first-key' : undefined;
  const ops = createCaller(config, flags.key, tooling);
  try {
    return await command({ config, flags, args, ops });
  } finally {
    await ops.close();
  }
}

/** What the API's answer means here: bad input or identity 2, refused or not found 3, the rest 1. */
function exitOf(error: OperationFailed): number {
  if (error.status === 400 || error.status === 401) return EXIT.usage;
  if (error.status === 403 || error.status === 404 || error.status === 409) return EXIT.problem;
  return EXIT.failure;
}

const LABELS: Record<number, string> = { 401: 'not authenticated', 403: 'forbidden', 429: 'rate limited' };

function isUsage(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    error instanceof IdentityError ||
    error instanceof InvalidRequestError ||
    error instanceof ConfigError ||
    String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
  );
}

/**
 * One call of the CLI: its exit code, with what went wrong written to stderr. Never exits the process:
 * bin.ts does, and the fuzz harness drives this in-process.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof OperationFailed) {
      const label = LABELS[error.status];
      process.stderr.write(`warden: ${label ? `${label} (${error.status}): ` : ''}${message}\n`);
      return exitOf(error);
    }
    process.stderr.write(`warden: ${temporalUnreachable(error) ?? message}\n`);
    return isUsage(error) ? EXIT.usage : EXIT.failure;
  }
}

/** gRPC's UNAVAILABLE under the client's ServiceError: no Temporal server answered at all. */
const UNAVAILABLE = 14;

/**
 * What to say when Temporal is not there (a command before `npm start`), where the client says only
 * "Failed to query Workflow": the connection's own error, and how to get a server.
 */
function temporalUnreachable(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ServiceError') return undefined;
  const cause = error.cause as { code?: unknown; details?: unknown } | undefined;
  if (cause?.code !== UNAVAILABLE) return undefined;
  const details = typeof cause.details === 'string' ? cause.details.replace(/\s*Resolution note:.*$/s, '') : '';
  return `Temporal is not reachable (${details || 'unavailable'}): is Warden running (npm start)? Or set TEMPORAL_ADDRESS to a running Temporal server.`;
}
