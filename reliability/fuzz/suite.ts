// The whole fuzz run over one environment: every boundary in turn (the
// control plane is one serialised queue, so boundaries run one after
// another; payloads within a boundary run in parallel), then the table.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/config/paths';
import { createApiServer, serveApi } from '../../src/operator/api/server';
import { httpBoundaries, messageBoundaries, workflowBoundaries } from './boundaries';
import type { FuzzEnv } from './env';
import { type BoundaryResult, emptyResult, engageLatency, runBoundary, verdictFailures, withTimeout } from './runner';
import { controlText, HUGE } from './payloads';
import fc from 'fast-check';

export interface SuiteOptions {
  runs: number;
  seed: number;
  /** Only boundaries whose name matches (FUZZ_ONLY), for a focused run. */
  only?: RegExp;
  /** Argument vectors sent through the real `bin/warden.cjs`; 0 skips the CLI. */
  cliSamples: number;
  log?: (line: string) => void;
}

export async function allBoundaries(env: FuzzEnv) {
  return [...workflowBoundaries(env), ...messageBoundaries(env), ...(await httpBoundaries(env))];
}

/**
 * Runs every boundary over one or more lanes (an environment each: its own namespace, database,
 * worker and control plane), each lane taking the next boundary not yet run; results in boundary order.
 */
export async function runSuite(envs: FuzzEnv[], options: SuiteOptions): Promise<BoundaryResult[]> {
  const log = options.log ?? (() => undefined);
  const lanes = await Promise.all(
    envs.map(async (env) => ({
      env,
      boundaries: (await allBoundaries(env)).filter((b) => !options.only || options.only.test(b.name)),
    })),
  );
  const count = lanes[0]?.boundaries.length ?? 0;
  const results: BoundaryResult[] = Array.from({ length: count });
  let next = 0;
  await Promise.all(
    lanes.map(async ({ env, boundaries }) => {
      while (next < count) {
        const i = next++;
        const boundary = boundaries[i]!;
        const result = await runBoundary(env, boundary, options.runs, options.seed + i, log);
        const failures = verdictFailures(result, options.runs);
        log(
          `${failures.length === 0 ? 'ok  ' : 'FAIL'} ${boundary.name}: ${result.payloads} payloads, ${result.rejected} refused, engage ${result.engageMs?.toFixed(0)} ms, ${result.seconds.toFixed(1)} s${failures.length ? ` — ${failures.join('; ')}` : ''}`,
        );
        for (const f of result.findings.slice(0, 4)) log(`       ${f}`);
        results[i] = result;
      }
    }),
  );
  if (options.cliSamples > 0 && (!options.only || options.only.test('cli')))
    results.push(await runCli(envs[0]!, options));
  return results;
}

interface Ran {
  code: number | null;
  stderr: string;
}

function runWarden(args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'warden.cjs'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * The CLI's own parsing runs at import (its module calls `run(process.argv)`),
 * so it cannot be driven in-process: a sample of hostile argument vectors goes
 * through the real `bin/warden.cjs` against the API on a port.
 */
async function runCli(env: FuzzEnv, options: SuiteOptions): Promise<BoundaryResult> {
  const started = performance.now();
  const served = await serveApi(createApiServer(env.deps, { rateLimitPerMinute: 1_000_000 }), 0, '127.0.0.1');
  const cliEnv = { WARDEN_API_URL: `http://127.0.0.1:${served.port}`, WARDEN_API_KEY: env.key, DATABASE_URL: '' };
  const hostile = fc.sample(
    fc.oneof(controlText, fc.constantFrom('', '-1', 'NaN', '1e308', '9007199254740993', 'x'.repeat(100_000))),
    { numRuns: options.cliSamples, seed: options.seed },
  );
  const commands: ((v: string) => string[])[] = [
    (v) => ['kill-switch', 'release', '--reason', v],
    (v) => ['go-live', v],
    (v) => ['deal', 'start', '--deal-id', v, '--engine', 'GLOBAL', '--symbol', 'X', '--amount', v],
    (v) => ['restrictions', 'add', 'pause', v, '--reason', v],
    (v) => ['risk', 'set-policy', 'GLOBAL', '--max-daily-loss', v],
    (v) => ['change', 'approve', v, '--role', v],
    (v) => ['proposal', 'approve', v, '--role', 'tech_lead'],
    (v) => ['kpi', 'record', '--domain', v, '--metric', v],
    (v) => ['playbook', 'step', v, '--evidence', v],
    (v) => ['--no-such-flag', v],
  ];
  const result: BoundaryResult = {
    ...emptyResult('cli bin/warden.cjs', 'cli'),
    families: { 'hostile argument': hostile.length },
  };
  try {
    for (const [i, value] of hostile.entries()) {
      // NUL cannot travel in an argv: the OS refuses it, so it is replaced by the next worst.
      const arg = value.replaceAll('\u0000', '\u0001').slice(0, HUGE);
      const argv = commands[i % commands.length]!(arg);
      const ran = await withTimeout(runWarden(argv, cliEnv), 30_000);
      result.payloads += 1;
      if (ran === 'timeout') {
        result.hangs += 1;
        continue;
      }
      if (ran.code === 0) {
        result.accepted += 1;
        continue;
      }
      result.rejected += 1;
      // Exit 1 is "could not run": a crash or a 500, never an answer to bad input.
      if (ran.code === 1) {
        result.serverErrors += 1;
        result.findings.push(`exit 1 for ${JSON.stringify(argv).slice(0, 200)}: ${ran.stderr.slice(0, 300)}`);
      } else if (!/(--?[\w-]+|[\w.]+): |unknown|expected|unexpected/i.test(ran.stderr)) {
        result.unnamed += 1;
        result.findings.push(`no field named for ${JSON.stringify(argv).slice(0, 200)}: ${ran.stderr.slice(0, 300)}`);
      }
    }
  } finally {
    await served.close();
  }
  result.engageMs = await engageLatency(env, 'cli');
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

const pad = (value: string | number, width: number) => String(value).padStart(width);

/** The table the issue asks for, one row a boundary, and a total. */
export function formatTable(results: BoundaryResult[], minPayloads: number): string[] {
  const header = `${'boundary'.padEnd(58)} ${pad('payloads', 8)} ${pad('rejected', 8)} ${pad('accepted', 8)} ${pad('task fail', 9)} ${pad('srv retry', 9)} ${pad('state chg', 9)} ${pad('unnamed', 7)} ${pad('5xx/hang', 8)} ${pad('engage ms', 9)} verdict`;
  const lines = [header, '-'.repeat(header.length)];
  for (const r of results) {
    const failures = verdictFailures(r, r.kind === 'cli' ? 1 : minPayloads);
    lines.push(
      `${r.boundary.slice(0, 58).padEnd(58)} ${pad(r.payloads, 8)} ${pad(r.rejected, 8)} ${pad(r.accepted, 8)} ${pad(r.taskFailures + r.badRuns, 9)} ${pad(r.serverRetries, 9)} ${pad(r.stateChanges, 9)} ${pad(r.unnamed, 7)} ${pad(r.serverErrors + r.hangs, 8)} ${pad(r.engageMs === null ? '—' : r.engageMs.toFixed(0), 9)} ${failures.length === 0 ? 'pass' : 'FAIL'}`,
    );
  }
  const sum = (f: (r: BoundaryResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const worst = Math.max(...results.map((r) => r.engageMs ?? 0));
  lines.push('-'.repeat(header.length));
  lines.push(
    `${`total (${results.length} boundaries)`.padEnd(58)} ${pad(
      sum((r) => r.payloads),
      8,
    )} ${pad(
      sum((r) => r.rejected),
      8,
    )} ${pad(
      sum((r) => r.accepted),
      8,
    )} ${pad(
      sum((r) => r.taskFailures + r.badRuns),
      9,
    )} ${pad(
      sum((r) => r.serverRetries),
      9,
    )} ${pad(
      sum((r) => r.stateChanges),
      9,
    )} ${pad(
      sum((r) => r.unnamed),
      7,
    )} ${pad(
      sum((r) => r.serverErrors + r.hangs),
      8,
    )} ${pad(worst.toFixed(0), 9)} max`,
  );
  return lines;
}

export { engageLatency };
