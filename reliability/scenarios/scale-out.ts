// Issue 15 item 7: the deployment that outgrew one machine. Two worker
// processes (each serving the API and /metrics) on one task queue and one
// database run the load and kill-switch scenarios; what the API limits must
// hold across both processes is checked through their HTTP endpoints.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, WorkerProcess } from '../lib/cluster';
import type { ScenarioResult } from '../lib/scenario';
import { type KillSwitchOptions, runKillSwitch } from './kill-switch';
import { type LoadOptions, runLoad } from './load';

export interface ScaleOutOptions {
  /** The load scenario's sizes; omitted, it is not run. */
  load?: LoadOptions;
  /** The kill-switch scenario's sizes; omitted, it is not run. */
  killSwitch?: KillSwitchOptions;
  /** The workers' WARDEN_RATE_LIMIT_PER_MINUTE (the cluster's setting): what the hammer must meet once. */
  rateLimitPerMinute: number;
}

/** One key, both processes, at once: the accepted requests must add up to the per-minute limit, not twice it. */
async function checkSharedRateLimit(
  cluster: Cluster,
  limit: number,
): Promise<{ accepted: number; failures: string[] }> {
  const failures: string[] = [];
  for (let attempt = 1; ; attempt++) {
    // A key per attempt: a burst that crossed a minute's edge left counts in the new minute's window too.
    const key = await cluster.apiKey(`scale-out-hammer-${attempt}-${Date.now()}`, ['analyst']);
    const minute = Math.floor(Date.now() / 60_000);
    // Twice the limit through each process: enough to pass it on either alone.
    const calls = cluster.workers.flatMap((worker) =>
      Array.from({ length: limit * 2 }, () =>
        fetch(`${worker.apiUrl}/control-plane`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => ({
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await r.text(),
        })),
      ),
    );
    const answers = await Promise.all(calls);
    // The window is the database's minute: a burst across its edge is counted in two windows; try again.
    if (Math.floor(Date.now() / 60_000) !== minute && attempt < 3) continue;
    const accepted = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 429);
    const other = answers.filter((a) => a.status !== 200 && a.status !== 429);
    if (accepted !== limit)
      failures.push(
        `rate limit: ${accepted} requests accepted through ${cluster.workers.length} processes, limit ${limit}`,
      );
    if (limited.some((a) => !(Number(a.retryAfter) >= 1)))
      failures.push('rate limit: a 429 without a Retry-After of at least 1 s');
    for (const a of other.slice(0, 3)) failures.push(`rate limit: unexpected ${a.status}: ${a.body.slice(0, 200)}`);
    return { accepted, failures };
  }
}

/** The governance series both processes serve, by name and labels; scrape-time gauges left out. */
async function governanceSeries(worker: WorkerProcess): Promise<Map<string, string>> {
  const text = await (await fetch(worker.metricsUrl)).text();
  const series = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    const name = line.slice(0, at);
    // Days since the phase began: read from the database, divided by each scrape's own clock.
    if (name.startsWith('simcorp_governance_days_since_phase_start')) continue;
    series.set(name, line.slice(at + 1));
  }
  return series;
}

async function checkMetricsAgree(cluster: Cluster): Promise<{ series: number; failures: string[] }> {
  let differences: string[] = [];
  let count = 0;
  // A write landing between the two scrapes moves a series: scrape again before calling it a disagreement.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const [first, ...others] = await Promise.all(cluster.workers.map(governanceSeries));
    count = first!.size;
    differences = [];
    for (const [i, other] of others.entries()) {
      for (const name of new Set([...first!.keys(), ...other.keys()]))
        if (first!.get(name) !== other.get(name))
          differences.push(
            `metrics: ${name} is ${first!.get(name) ?? 'absent'} on ${cluster.workers[0]!.name}, ${other.get(name) ?? 'absent'} on ${cluster.workers[i + 1]!.name}`,
          );
    }
    if (differences.length === 0) break;
    await sleep(500);
  }
  if (count === 0) differences.push('metrics: no governance series served');
  return { series: count, failures: differences.slice(0, 10) };
}

export async function runScaleOut(cluster: Cluster, options: ScaleOutOptions): Promise<ScenarioResult> {
  if (cluster.workers.length < 2) throw new Error('scale-out needs a cluster of at least two workers');
  const failures: string[] = [];
  const figures: Record<string, number | string> = { workers: cluster.workers.length };

  const hammer = await checkSharedRateLimit(cluster, options.rateLimitPerMinute);
  failures.push(...hammer.failures);
  figures['rate limit per minute'] = options.rateLimitPerMinute;
  figures['accepted across processes'] = hammer.accepted;

  // The kill switch first: its deals are small, so the load scenario still meets the seed caps afterwards.
  for (const [name, run] of [
    ['kill-switch', options.killSwitch && (() => runKillSwitch(cluster, options.killSwitch!))],
    ['load', options.load && (() => runLoad(cluster, options.load!))],
  ] as const) {
    if (!run) continue;
    const result = await run();
    failures.push(...result.failures.map((f) => `${name}: ${f}`));
    for (const [key, value] of Object.entries(result.figures)) figures[`${name}: ${key}`] = value;
  }

  const metrics = await checkMetricsAgree(cluster);
  failures.push(...metrics.failures);
  figures['governance series compared'] = metrics.series;

  return { name: 'scale-out', passed: failures.length === 0, figures, failures };
}
