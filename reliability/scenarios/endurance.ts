// Issue 15 item 8: Warden as `npm start` runs it (workers/local.ts: worker,
// API, embedded dev server and PGlite) under steady mixed traffic — deals,
// commands, KPI events, watchdog runs, API reads — for a set time. Every
// minute: the Node process's RSS, the dev server's, and the database's size on
// disk. Verdict: RSS growth after warm-up under the bound, and no failed
// request apart from the denials the traffic asks for.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { toolPaths } from '../../src/config/paths';
import type { CommandResult } from '../../src/domain/autonomy/commands';
import type { ControlPlaneView } from '../../src/domain/control-plane/types';
import type { DealResult } from '../../src/domain/deals/types';
import { PLAYBOOK_STEP_IDS } from '../../src/domain/go-live/playbook';
import type { Role } from '../../src/domain/identity/roles';
import { CANARY_SCHEDULE_ID, TRIPWIRE_SCHEDULE_ID } from '../../src/temporal/schedules';
import { COMMAND_EXECUTION_WORKFLOW_TYPE, commandWorkflowId, dealWorkflowId } from '../../workflows/names';
import { folderBytes, type LocalWarden, rssBytes, startLocalWarden } from '../lib/local-warden';
import type { ScenarioResult } from '../lib/scenario';

const run = promisify(execFile);

/** The dev server's state file with its write-ahead log. */
function temporalStateBytes(dataDir: string): number {
  return ['temporal.sqlite', 'temporal.sqlite-wal', 'temporal.sqlite-shm']
    .map((name) => path.join(dataDir, name))
    .filter((file) => existsSync(file))
    .reduce((sum, file) => sum + statSync(file).size, 0);
}

export interface EnduranceOptions {
  /** Where the scratch data folder (PGlite, dev-server state, log) goes. */
  dir: string;
  minutes: number;
  /** Minutes before the RSS baseline is taken (caches, JIT, the database's buffers filling). */
  warmupMinutes: number;
  /** Allowed RSS growth after warm-up, as a fraction (0.1: 10 %). */
  maxRssGrowth?: number;
  sampleEveryMs?: number;
  /** Traffic cadence, ms between two of each kind; modest and steady, well inside the API's rate limits. */
  every?: Partial<Record<TrafficKind, number>>;
  /** Node flags for the local.ts process (e.g. --heapsnapshot-signal=SIGUSR2). */
  nodeArgs?: string[];
  onSample?: (sample: Sample) => void;
}

export type TrafficKind = 'deal' | 'command' | 'kpi' | 'watchdog' | 'read';
const KINDS: TrafficKind[] = ['deal', 'command', 'kpi', 'watchdog', 'read'];
const DEFAULT_EVERY: Record<TrafficKind, number> = {
  deal: 3_000,
  command: 15_000,
  kpi: 3_000,
  watchdog: 60_000,
  read: 1_000,
};

export interface Sample {
  minute: number;
  workerRssMb: number;
  devServerRssMb: number;
  pgliteMb: number;
  temporalStateMb: number;
  /** Requests answered so far, each kind. */
  done: Record<TrafficKind, number>;
  failed: number;
}

interface Tally {
  sent: number;
  ok: number;
  /** Denials the traffic asked for (over-cap deals, rejected commands). */
  expectedDenials: number;
  failed: number;
  /** How long each request of the kind took to answer (its follow-up not included), ms. */
  latencies: number[];
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const MB = 1024 * 1024;
const mb = (bytes: number | undefined) => Math.round(((bytes ?? 0) / MB) * 10) / 10;

// Who acts: three owners (a change request that loosens needs two people besides its requester), and one
// key per traffic source, so each stays well inside its per-route rate limit.
const IDENTITIES: [string, Role[]][] = [
  ['alice', ['owner']],
  ['bob', ['owner']],
  ['carol', ['owner']],
  ['dealer', ['operator']],
  ['erin', ['engineer']],
  ['kpi-feed', ['automation']],
  ['reader', ['analyst']],
];

/** GET endpoints a dashboard or operator reads, round-robin. */
const READS = [
  '/status',
  '/control-plane',
  '/risk/ledger/today',
  '/permits',
  '/audit',
  '/review',
  '/autonomy',
  '/notifications',
  '/capital',
  '/positions',
  '/change-requests',
  '/breaker-events',
  '/regression',
  '/playbook',
  '/proposals',
  '/execution-policies',
];

class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly keys: Map<string, string>,
  ) {}

  async call(who: string, method: 'GET' | 'POST', route: string, body?: unknown) {
    const response = await fetch(`${this.baseUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${this.keys.get(who)!}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON (e.g. /metrics): kept as text
    }
    return { status: response.status, body: json };
  }

  /** An operation that must succeed: its answer, else an error naming the status and message. */
  async op<T>(who: string, name: string, input: unknown): Promise<T> {
    const { status, body } = await this.call(who, 'POST', `/operations/${name}`, input);
    if (status !== 200) throw new Error(`${name} as ${who}: HTTP ${status} ${JSON.stringify(body)}`);
    return body as T;
  }
}

interface Submitted {
  changeRequestId: string;
  applied: boolean;
}

/** A change request that loosens: its requester opens it, two other owners approve it, and it applies. */
async function approved(api: Api, submitted: Submitted): Promise<void> {
  if (submitted.applied) return;
  const id = submitted.changeRequestId;
  for (const who of ['bob', 'carol']) {
    const view = await api.op<{ status: string }>(who, 'change.approve', { id });
    if (view.status !== 'pending') break;
  }
  // Approved, it applies through its workflow a moment later.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await api.op<{ status: string }>('alice', 'change.show', { id });
    if (view.status === 'applied') return;
    if (Date.now() > deadline) throw new Error(`change request ${id} did not apply: ${JSON.stringify(view)}`);
    await sleep(200);
  }
}

/**
 * What an operator does after `npm start` before traffic, through the API as people: keys, the nine-step
 * playbook (signed off by someone who did no step), go-live on and apply mode testnet (change requests
 * others approve), and an engineer on the tech_lead allowlist to approve commands.
 */
async function arm(warden: LocalWarden, api: Api, keys: Map<string, string>): Promise<ControlPlaneView> {
  // The first key is active at once; each later one waits for an owner's approval: alice, the first.
  for (const [identity, roles] of IDENTITIES) {
    const created = await warden.asLocalOwner<{ key: string; changeRequest: Submitted | null }>('keys.create', {
      identity,
      roles,
    });
    keys.set(identity, created.key);
    if (created.changeRequest && !created.changeRequest.applied)
      await api.op('alice', 'change.approve', { id: created.changeRequest.changeRequestId });
  }
  await api.op('alice', 'playbook.start', {});
  // Every step but the sign-off, which someone else gives below.
  for (const step of PLAYBOOK_STEP_IDS.filter((id) => id !== 'sign_off')) {
    const answer = await api.op<{ accepted?: boolean }>('alice', 'playbook.step', {
      step,
      evidence: `endurance harness: ${step}`,
    });
    if (answer.accepted === false) throw new Error(`playbook step ${step} refused: ${JSON.stringify(answer)}`);
  }
  const signOff = await api.op<{ accepted?: boolean }>('bob', 'playbook.step', {
    step: 'sign_off',
    evidence: 'endurance harness sign-off',
    role: 'owner',
  });
  if (signOff.accepted === false) throw new Error(`playbook sign-off refused: ${JSON.stringify(signOff)}`);
  await approved(api, await api.op('alice', 'goLive.set', { enabled: true, reason: 'endurance run' }));
  await approved(api, await api.op('alice', 'applyMode.set', { mode: 'testnet', reason: 'endurance run' }));
  await approved(
    api,
    await api.op('alice', 'approvers.add', { role: 'tech_lead', approver: 'erin', reason: 'approves commands' }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await api.call('reader', 'GET', '/control-plane');
    const state = body as ControlPlaneView;
    if (state.goLiveEnabled && state.applyMode === 'testnet' && !state.killSwitchEngaged) return state;
    if (Date.now() > deadline) throw new Error(`the control plane did not arm: ${JSON.stringify(state)}`);
    await sleep(200);
  }
}

export async function runEndurance(options: EnduranceOptions): Promise<ScenarioResult> {
  const every = { ...DEFAULT_EVERY, ...options.every };
  const maxGrowth = options.maxRssGrowth ?? 0.1;
  const sampleEveryMs = options.sampleEveryMs ?? 60_000;
  const dataDir = path.join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const failures: string[] = [];
  const failureCounts = new Map<string, number>();
  const tallies = Object.fromEntries(
    KINDS.map((k): [TrafficKind, Tally] => [k, { sent: 0, ok: 0, expectedDenials: 0, failed: 0, latencies: [] }]),
  ) as Record<TrafficKind, Tally>;
  const outcomes = new Map<string, number>();
  const outcome = (kind: 'deal' | 'command', status: string) =>
    outcomes.set(`${kind} ${status}`, (outcomes.get(`${kind} ${status}`) ?? 0) + 1);
  const fail = (kind: TrafficKind, what: string) => {
    tallies[kind].failed += 1;
    // One line per distinct failure, with its count: a run of one repeated error stays readable.
    const line = `${kind}: ${what.replace(/\d{4,}/g, '#')}`.slice(0, 300);
    failureCounts.set(line, (failureCounts.get(line) ?? 0) + 1);
  };

  const warden = await startLocalWarden({ dataDir, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}) });
  const connection = await Connection.connect({ address: warden.temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const keys = new Map<string, string>();
  const api = new Api(warden.apiUrl, keys);
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  /** A request's follow-up (its result, its approval), run beside the traffic; an error in it is a failure. */
  const track = (kind: TrafficKind, follow: Promise<void>) => {
    const work = follow.catch((error: unknown) => fail(kind, error instanceof Error ? error.message : String(error)));
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };
  try {
    await arm(warden, api, keys);
    const started = Date.now();
    const endsAt = started + options.minutes * 60_000;

    // --- traffic, one loop per kind; each request's follow-up (a result, an approval) runs beside it
    let dealN = 0;
    const deal = async () => {
      const n = dealN++;
      const variant = n % 20;
      // Mostly small sandbox fills (the seed caps hold all day), some observe-only (dry run), one in twenty
      // over every cap (a denial the traffic asks for). A symbol per deal, cycled through a thousand:
      // the permit governor's per-symbol limits (2 per 5 min, 3 an hour) are for people.
      const overCap = variant === 0;
      const observe = variant === 1 || variant === 2;
      const dealId = `endurance-${started}-${n}`;
      const input = {
        dealId,
        engine: n % 2 === 0 ? 'WHOLESALE' : 'CAPITAL',
        symbol: `END${n % 1000}`,
        amount: overCap ? 5_000 : 0.01 * (1 + (n % 10)),
        executionClass: observe ? 'OBSERVE_ONLY' : 'SANDBOX_EXEC',
      };
      const startedDeal = await api.call('dealer', 'POST', '/operations/deal.start', input);
      if (startedDeal.status !== 200)
        return fail('deal', `start HTTP ${startedDeal.status} ${JSON.stringify(startedDeal.body)}`);
      const expected = overCap ? 'denied' : observe ? 'dry_run' : 'executed';
      track(
        'deal',
        (async () => {
          // The producer waits on the workflow's result with the Temporal client, a long-poll on the server:
          // the API's deal.result polls describe on Warden's own thread, and a thousand waiters would be the
          // harness's load, not the traffic's.
          const result = (await client.workflow.getHandle(dealWorkflowId(dealId)).result()) as DealResult;
          outcome('deal', result.status);
          if (result.status !== expected)
            return fail('deal', `${expected} expected, got ${result.status} ${JSON.stringify(result).slice(0, 200)}`);
          if (overCap) tallies.deal.expectedDenials += 1;
          else tallies.deal.ok += 1;
        })(),
      );
    };

    let commandN = 0;
    const command = async () => {
      const n = commandN++;
      const reject = n % 5 === 4;
      const commandId = `endurance-${started}-${n}`;
      const workflowId = commandWorkflowId(commandId);
      // A producer starts commands on Warden's queue (which, under `npm start`, serves the simulated command
      // executor); nothing is whitelisted at L3, so each waits for a person.
      const handle = await client.workflow.start(COMMAND_EXECUTION_WORKFLOW_TYPE, {
        taskQueue: 'warden',
        workflowId,
        args: [
          {
            commandId,
            commandType: 'SET_POWER',
            params: { watts: 100 + (n % 50) },
            requestedBy: 'endurance-agent',
            approvalTimeoutSeconds: 600,
          },
        ],
      });
      track(
        'command',
        (async () => {
          const deadline = Date.now() + 60_000;
          for (;;) {
            const status = await api.call('reader', 'GET', `/commands/${commandId}`);
            if (status.status === 200 && (status.body as { stage: string }).stage === 'awaiting_approval') break;
            if (Date.now() > deadline) return fail('command', `never awaited approval: ${JSON.stringify(status.body)}`);
            await sleep(1_000);
          }
          const decided = await api.call('erin', 'POST', `/commands/${commandId}/${reject ? 'reject' : 'approve'}`, {
            role: 'tech_lead',
            comment: 'endurance',
          });
          if (decided.status !== 200)
            return fail('command', `decision HTTP ${decided.status} ${JSON.stringify(decided.body)}`);
          const result = (await handle.result()) as CommandResult;
          outcome('command', result.status);
          const expected = reject ? 'rejected' : 'succeeded';
          if (result.status !== expected) return fail('command', `${expected} expected, got ${JSON.stringify(result)}`);
          if (reject) tallies.command.expectedDenials += 1;
          else tallies.command.ok += 1;
        })(),
      );
    };

    let kpiN = 0;
    const kpi = async () => {
      const n = kpiN++;
      // A steady 95 % success rate on the seed's WHOLESALE policies: no drop, so the tripwire must not fire
      // (were they enabled; the seed ships them disabled).
      const answer = await api.call('kpi-feed', 'POST', '/operations/kpi.record', {
        domain: 'WHOLESALE',
        metric: n % 2 === 0 ? 'contract_rate' : 'offer_accept_rate',
        success: Math.floor(n / 2) % 20 !== 7,
      });
      if (answer.status !== 200) return fail('kpi', `HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      tallies.kpi.ok += 1;
    };

    let watchdogN = 0;
    const watchdog = async () => {
      const scheduleId = watchdogN++ % 2 === 0 ? CANARY_SCHEDULE_ID : TRIPWIRE_SCHEDULE_ID;
      try {
        await run(toolPaths.temporal, [
          'schedule',
          'trigger',
          '--schedule-id',
          scheduleId,
          '--address',
          warden.temporalAddress,
          '--namespace',
          'default',
        ]);
        tallies.watchdog.ok += 1;
      } catch (error) {
        fail('watchdog', `trigger ${scheduleId}: ${(error as { stderr?: string }).stderr ?? String(error)}`);
      }
    };

    let readN = 0;
    const read = async () => {
      const route = READS[readN++ % READS.length]!;
      const answer = await api.call('reader', 'GET', route);
      if (answer.status !== 200)
        return fail('read', `GET ${route}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      tallies.read.ok += 1;
    };

    const traffic: Record<TrafficKind, () => Promise<void>> = { deal, command, kpi, watchdog, read };
    // Each kind on its own clock: a slow answer delays the next of its kind, never the others.
    const loops = KINDS.map(async (kind) => {
      for (let next = Date.now(); next < endsAt; next += every[kind]) {
        await sleep(Math.max(0, next - Date.now()));
        if (Date.now() >= endsAt) break;
        tallies[kind].sent += 1;
        const sentAt = performance.now();
        await traffic[kind]().catch((error: unknown) =>
          fail(kind, error instanceof Error ? error.message : String(error)),
        );
        tallies[kind].latencies.push(performance.now() - sentAt);
      }
    });

    const sample = (minute: number) => {
      const devServer = warden.devServerPid();
      const s: Sample = {
        minute,
        workerRssMb: mb(rssBytes(warden.pid)),
        devServerRssMb: mb(devServer === undefined ? undefined : rssBytes(devServer)),
        pgliteMb: mb(folderBytes(path.join(dataDir, 'pglite'))),
        temporalStateMb: mb(temporalStateBytes(dataDir)),
        done: Object.fromEntries(KINDS.map((k) => [k, tallies[k].ok + tallies[k].expectedDenials])) as Sample['done'],
        failed: KINDS.reduce((sum, k) => sum + tallies[k].failed, 0),
      };
      samples.push(s);
      options.onSample?.(s);
    };
    sample(0);
    const sampler = (async () => {
      for (let minute = 1; started + minute * sampleEveryMs <= endsAt; minute++) {
        await sleep(Math.max(0, started + minute * sampleEveryMs - Date.now()));
        sample(minute);
      }
    })();
    await Promise.all([...loops, sampler]);
    // Follow-ups still open (results, approvals) finish before the verdict.
    while (pending.size > 0) await Promise.all(pending);

    // --- the state traffic should have left as it was: armed, nothing fired, nothing held
    const state = (await api.call('reader', 'GET', '/control-plane')).body as ControlPlaneView;
    if (!state.goLiveEnabled || state.applyMode !== 'testnet' || state.killSwitchEngaged)
      failures.push(
        `control plane moved under steady traffic: go-live ${state.goLiveEnabled}, apply mode ${state.applyMode}, kill switch ${state.killSwitchEngaged ? 'engaged' : 'released'} (${state.reason ?? ''})`,
      );
    const orphans = await api.op<Record<string, unknown[]>>('reader', 'deals.orphans', {});
    const held = Object.values(orphans).reduce((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
    if (held > 0) failures.push(`${held} reservation(s) or permit(s) held by closed deals: ${JSON.stringify(orphans)}`);
    // The watchdogs ran under the traffic (their checks are recent) and found nothing: it was steady.
    const canary = await api.op<{ name: string; ok: boolean; lastError: string | null; lastCheckedAt: string }[]>(
      'reader',
      'canary.status',
      {},
    );
    const tripwire = await api.op<{
      policies: {
        domain: string;
        metric: string;
        enabled: boolean;
        state: { triggered: boolean; lastCheckedAt: string } | null;
      }[];
    }>('reader', 'tripwire.status', {});
    const since = new Date(endsAt - 2 * every.watchdog).toISOString();
    for (const check of canary) {
      if (!check.ok) failures.push(`canary check ${check.name} failing: ${check.lastError ?? ''}`);
      if (check.lastCheckedAt < since) failures.push(`canary check ${check.name} not run since ${check.lastCheckedAt}`);
    }
    if (canary.length === 0) failures.push('the canary never ran');
    // The seed's regression policies ship disabled: on the defaults the tripwire runs and evaluates none.
    for (const policy of tripwire.policies) {
      const id = `${policy.domain}/${policy.metric}`;
      if (policy.state?.triggered) failures.push(`tripwire ${id} fired under steady KPIs`);
      if (policy.enabled && !(policy.state && policy.state.lastCheckedAt >= since))
        failures.push(`tripwire policy ${id} not evaluated since ${policy.state?.lastCheckedAt ?? 'ever'}`);
    }
    const audit = await warden.asLocalOwner<{ ok: boolean }>('audit.verify', {});
    if (!audit.ok) failures.push(`audit chain does not verify: ${JSON.stringify(audit).slice(0, 300)}`);
  } finally {
    while (pending.size > 0) await Promise.allSettled(pending);
    await connection.close().catch(() => undefined);
    await warden.stop();
  }

  for (const [line, count] of failureCounts) failures.push(count > 1 ? `${line} (×${count})` : line);
  // Baseline and end are each the median of a few samples (a tenth of the run), so one GC swing of the heap
  // neither makes nor hides a trend.
  const window = Math.max(1, Math.round(options.minutes / 10));
  const after = samples.filter((s) => s.minute >= options.warmupMinutes);
  const median = (list: Sample[]) => {
    const sorted = list.map((s) => s.workerRssMb).sort((x, y) => x - y);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  const baseline = median(after.slice(0, window));
  const end = median(after.slice(-window));
  const last = samples.at(-1)!;
  const warmup = after[0] ?? last;
  const growth = (end - baseline) / baseline;
  if (!(growth < maxGrowth))
    failures.push(
      `worker RSS grew ${(growth * 100).toFixed(1)} % after warm-up (${baseline} → ${end} MB), bound ${maxGrowth * 100} %`,
    );
  const figures: Record<string, number | string> = {
    minutes: options.minutes,
    'warm-up minutes': options.warmupMinutes,
    [`worker RSS after warm-up (MB, median of ${window})`]: baseline,
    [`worker RSS at end (MB, median of ${window})`]: end,
    'worker RSS peak after warm-up (MB)': Math.max(...after.map((s) => s.workerRssMb)),
    'worker RSS growth after warm-up (%)': Math.round(growth * 1000) / 10,
    'dev server RSS after warm-up → end (MB)': `${warmup.devServerRssMb} → ${last.devServerRssMb}`,
    'PGlite on disk start → end (MB)': `${samples[0]!.pgliteMb} → ${last.pgliteMb}`,
  };
  figures.outcomes = [...outcomes].map(([what, n]) => `${what} ${n}`).join(', ');
  for (const kind of KINDS) {
    const t = tallies[kind];
    figures[`${kind}s sent / ok / expected denials / failed`] =
      `${t.sent} / ${t.ok} / ${t.expectedDenials} / ${t.failed}`;
    figures[`${kind}s answer p50 / p99 / max (ms)`] = [50, 99, 100]
      .map((p) => Math.round(percentile(t.latencies, p)))
      .join(' / ');
  }
  return { name: 'endurance', passed: failures.length === 0, figures, failures };
}

/** The samples as a table, one line a minute (the runner prints them as they come). */
export function sampleLine(s: Sample): string {
  const done = KINDS.map((k) => `${k}s ${s.done[k]}`).join(', ');
  return `min ${String(s.minute).padStart(3)}  worker RSS ${s.workerRssMb.toFixed(1).padStart(7)} MB  dev server ${s.devServerRssMb.toFixed(1).padStart(7)} MB  PGlite ${s.pgliteMb.toFixed(1).padStart(7)} MB  temporal state ${s.temporalStateMb.toFixed(1).padStart(6)} MB  | ${done}, failed ${s.failed}`;
}
