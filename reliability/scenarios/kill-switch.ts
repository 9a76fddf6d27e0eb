// Issue 15 item 3: the kill switch engaged while deals run. The verdicts rest
// on the database's rows (the engage's audit event, the deals' outcome events,
// reservations, permits) and on what the recording executor saw, never on
// Warden's metrics.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { AuditKind } from '../../src/domain/audit/kinds';
import type { DealResult } from '../../src/domain/deals/types';
import { armForLive } from '../lib/arm';
import { type Cluster, persistently } from '../lib/cluster';
import { EXECUTOR_TASK_QUEUE, type ExecutorCall, startRecordingExecutor } from '../lib/recording-executor';
import type { ScenarioResult } from '../lib/scenario';

export interface KillSwitchOptions {
  /** Deals per repeat, all in flight around the engage. */
  deals: number;
  /** Engage/release rounds; the latency figures are taken over these. */
  repeats: number;
  /** Deals in flight at once: a new one starts as one ends. */
  concurrency: number;
  /** Each deal's amount (whole cents): small, so the seed's daily caps hold every repeat. */
  amount?: number;
  /** How long a fill takes; long enough to keep many deals inside the executor at the engage. */
  fillMs?: () => number;
  /** Names this run's deals apart from other scenarios' on the same cluster. */
  tag?: string;
}

const TYPED: ReadonlySet<DealResult['status']> = new Set(['executed', 'denied', 'failed', 'needs_reconciliation']);
const ENGAGER = 'reliability-engager';
const APPROVER = 'reliability-approver';

interface Round {
  engageSentAt: number;
  /** The engage's audit event: when the control plane persisted it. */
  engagePersistedAt: number;
  firstDenialAt: number | null;
  startsAfterEngage: ExecutorCall[];
  results: DealResult[];
  failures: string[];
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function untilState(cluster: Cluster, engaged: boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await persistently(() => cluster.warden.controlPlaneState(), 'control plane state');
    if (state.killSwitchEngaged === engaged && state.pendingChanges === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}: the control plane did not show it within 30 s`);
    await sleep(25);
  }
}

/** Releases an engaged kill switch as the cluster's policy allows: one approver who did not engage it. */
export async function releaseKillSwitch(cluster: Cluster): Promise<void> {
  const result = await cluster.warden.changeControlPlane({
    kind: 'releaseKillSwitch',
    actor: APPROVER,
    role: 'risk_officer',
    reason: 'reliability harness: round over',
  });
  if (result.outcome.status !== 'applied')
    throw new Error(`release not applied: ${JSON.stringify(result.outcome)} (is WARDEN_RELEASE_APPROVALS above 1?)`);
  await untilState(cluster, false, 'release');
}

/**
 * When the deal's last gate (authorizeExecution, a local activity) completed, by the wall clock of the
 * worker that ran it: Temporal records it in the activity's marker, whatever the workflow task's latency.
 */
async function authorizationTime(cluster: Cluster, workflowId: string, runId: string): Promise<number | null> {
  const history = await cluster.client.workflow.getHandle(workflowId, runId).fetchHistory();
  for (const event of history.events ?? []) {
    const data = event.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    if (!data) continue;
    const marker = JSON.parse(Buffer.from(data).toString('utf8')) as {
      activity_type?: string;
      complete_time?: { seconds: number; nanos: number };
    };
    if (marker.activity_type === 'authorizeExecution' && marker.complete_time)
      return marker.complete_time.seconds * 1000 + Math.floor(marker.complete_time.nanos / 1e6);
  }
  return null;
}

async function oneRound(
  cluster: Cluster,
  calls: () => ExecutorCall[],
  options: Required<Omit<KillSwitchOptions, 'repeats' | 'fillMs'>>,
  round: number,
): Promise<Round> {
  const failures: string[] = [];
  const ids = Array.from({ length: options.deals }, (_, i) => `${options.tag}-r${round}-${i}`);
  const mine = new Set(ids);
  const startedHere = () => calls().filter((c) => c.event === 'start' && mine.has(c.dealId));

  const results: DealResult[] = [];
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const dealId = ids[next++]!;
      const engine = next % 2 === 0 ? 'WHOLESALE' : 'CAPITAL';
      const result = await persistently(
        () =>
          cluster.warden.executeDeal({
            dealId,
            engine,
            symbol: 'ETHUSDT',
            amount: options.amount,
            requestedBy: 'reliability-bot',
            executorTaskQueue: EXECUTOR_TASK_QUEUE,
          }),
        `deal ${dealId}`,
      );
      results.push(result);
    }
  };
  const lanes = Array.from({ length: Math.min(options.concurrency, ids.length) }, lane);

  // Engage once a third of the deals are inside the executor: the rest are at their gates or not started.
  const engageAfter = Math.max(1, Math.floor(options.deals / 3));
  const waitDeadline = Date.now() + 60_000;
  while (startedHere().length < engageAfter) {
    if (Date.now() > waitDeadline)
      throw new Error(`round ${round}: fewer than ${engageAfter} deals reached the executor`);
    await sleep(20);
  }
  const engageSentAt = Date.now();
  await cluster.warden.engageKillSwitch({
    source: 'operator',
    actor: ENGAGER,
    reason: `reliability harness: kill switch in flight, round ${round}`,
  });
  await untilState(cluster, true, 'engage');
  await Promise.all(lanes);

  // When the control plane persisted the engage: its audit event, checked against its state.
  const engage = await cluster.db
    .selectFrom('audit_event')
    .select(['at', 'details'])
    .where('kind', '=', AuditKind.controlPlane.killSwitchEngaged)
    .where('actor', '=', ENGAGER)
    .where('at', '>=', new Date(engageSentAt - 1_000))
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (!engage) throw new Error(`round ${round}: no ${AuditKind.controlPlane.killSwitchEngaged} event in the audit log`);
  const engagePersistedAt = engage.at.getTime();
  const after = (engage.details as { after?: { killSwitchEngaged?: boolean; killSwitchEngagedAt?: string } }).after;
  const state = await cluster.warden.controlPlaneState();
  if (!after?.killSwitchEngaged || state.killSwitchEngagedAt !== after.killSwitchEngagedAt)
    failures.push(
      `round ${round}: the engage's audit event (${after?.killSwitchEngagedAt}) and the control plane's state (${state.killSwitchEngagedAt}) disagree`,
    );

  // Invariant: no deal passes its last gate after the engage was persisted. An executor call that starts after
  // the engage is counted (the figure the issue asks for) and must belong to a deal authorized before it.
  const startsAfterEngage = startedHere().filter((c) => c.at > engagePersistedAt);
  for (const call of startsAfterEngage) {
    const authorizedAt = await authorizationTime(cluster, call.workflowId, call.runId);
    if (authorizedAt === null || authorizedAt >= engagePersistedAt)
      failures.push(
        `round ${round}: deal ${call.dealId} reached the executor ${call.at - engagePersistedAt} ms after the engage was persisted, authorized ${authorizedAt === null ? 'at no recorded time' : `${authorizedAt - engagePersistedAt} ms after it`}`,
      );
  }

  // Every deal ends typed; nothing reported not executed reached the executor; only control_plane denials.
  const byId = new Map(results.map((r) => [r.dealId, r]));
  const reached = new Set(startedHere().map((c) => c.dealId));
  for (const id of ids) {
    const result = byId.get(id);
    if (!result) failures.push(`round ${round}: deal ${id} has no result`);
    else if (!TYPED.has(result.status)) failures.push(`round ${round}: deal ${id} ended ${result.status}`);
    else if (result.status === 'denied' && result.gate !== 'control_plane')
      failures.push(`round ${round}: deal ${id} denied at ${result.gate} (${result.reason}), not by the kill switch`);
    else if (result.status === 'denied' && reached.has(id))
      failures.push(`round ${round}: deal ${id} was denied, yet the executor saw it`);
    else if (result.status === 'executed' && !reached.has(id))
      failures.push(`round ${round}: deal ${id} executed, yet the executor never saw it`);
  }

  // Reservations and permits: nothing left held by this round's deals.
  const keys = ids.map((id) => `deal:${id}`);
  const held = await cluster.db
    .selectFrom('risk_reservation')
    .select(['idempotency_key'])
    .where('idempotency_key', 'in', keys)
    .where('status', '=', 'reserved')
    .execute();
  for (const row of held) failures.push(`round ${round}: reservation ${row.idempotency_key} still held`);
  const permits = await cluster.db
    .selectFrom('execution_permit')
    .select(['id', 'deal_id'])
    .where('deal_id', 'in', ids)
    .where('status', '=', 'issued')
    .execute();
  for (const row of permits) failures.push(`round ${round}: permit ${row.id} of deal ${row.deal_id} still issued`);

  // The first deal the kill switch denied, by its outcome event in the audit log.
  const denial = await cluster.db
    .selectFrom('audit_event')
    .select(sql<Date>`min(at)`.as('at'))
    .where('kind', '=', AuditKind.deal.denied)
    .where('subject', 'in', keys)
    .where(sql<string>`details->'result'->>'gate'`, '=', 'control_plane')
    .executeTakeFirst();
  const firstDenialAt = denial?.at ? new Date(denial.at).getTime() : null;
  if (firstDenialAt === null) failures.push(`round ${round}: no deal was denied by the kill switch`);

  return { engageSentAt, engagePersistedAt, firstDenialAt, startsAfterEngage, results, failures };
}

export async function runKillSwitch(cluster: Cluster, options: KillSwitchOptions): Promise<ScenarioResult> {
  const tag = options.tag ?? `ks-${Date.now().toString(36)}`;
  const state = await persistently(() => cluster.warden.controlPlaneState(), 'control plane state');
  if (!state.goLiveEnabled || state.applyMode !== 'live') await armForLive(cluster);
  if (state.killSwitchEngaged) await releaseKillSwitch(cluster);
  const executor = await startRecordingExecutor({
    address: cluster.temporalAddress,
    namespace: 'default',
    file: path.join(cluster.dir, `${tag}-executor.jsonl`),
    fillMs: options.fillMs ?? (() => 400 + Math.floor(Math.random() * 800)),
  });
  const rounds: Round[] = [];
  try {
    for (let round = 1; round <= options.repeats; round++) {
      rounds.push(
        await oneRound(
          cluster,
          () => executor.calls(),
          { deals: options.deals, concurrency: options.concurrency, amount: options.amount ?? 1, tag },
          round,
        ),
      );
      await releaseKillSwitch(cluster);
    }
  } finally {
    await executor.stop();
  }

  const persistLatency = rounds.map((r) => r.engagePersistedAt - r.engageSentAt);
  const denialLatency = rounds.filter((r) => r.firstDenialAt !== null).map((r) => r.firstDenialAt! - r.engageSentAt);
  const results = rounds.flatMap((r) => r.results);
  const count = (status: DealResult['status']) => results.filter((r) => r.status === status).length;
  const failures = rounds.flatMap((r) => r.failures);
  const lateStarts = rounds.flatMap((r) => r.startsAfterEngage.map((c) => c.at - r.engagePersistedAt));
  return {
    name: 'kill-switch',
    passed: failures.length === 0,
    figures: {
      deals: results.length,
      repeats: rounds.length,
      executed: count('executed'),
      denied: count('denied'),
      failed: count('failed'),
      needs_reconciliation: count('needs_reconciliation'),
      executor_starts_after_engage: lateStarts.length,
      executor_start_after_engage_ms_max: lateStarts.length === 0 ? 0 : Math.max(...lateStarts),
      engage_persisted_ms_p50: percentile(persistLatency, 50),
      engage_persisted_ms_p99: percentile(persistLatency, 99),
      engage_to_first_denial_ms_p50: percentile(denialLatency, 50),
      engage_to_first_denial_ms_p99: percentile(denialLatency, 99),
    },
    failures,
  };
}
