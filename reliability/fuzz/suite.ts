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
  /** Argument vectors also sent through the real `bin/warden.cjs` (a process each); 0 skips the CLI. */
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
  if (options.cliSamples > 0)
    for (const command of CLI_COMMANDS) {
      const name = `cli ${command('ARG').join(' ')}`;
      if (options.only && !options.only.test(name)) continue;
      const result = await runCliInProcess(envs[0]!, command, name, options);
      log(
        `${verdictFailures(result, options.runs).length === 0 ? 'ok  ' : 'FAIL'} ${name}: ${result.payloads} payloads`,
      );
      results.push(result);
    }
  if (options.cliSamples > 0 && (!options.only || options.only.test(CLI_BIN)))
    results.push(await runCli(envs[0]!, options));
  return results;
}

/** The spawned CLI's boundary: a sample only (a process each), the same argument vectors as in-process. */
export const CLI_BIN = 'cli bin/warden.cjs';

/** How many payloads a boundary's verdict asks for. */
export const minPayloadsOf = (result: BoundaryResult, runs: number) => (result.boundary === CLI_BIN ? 1 : runs);

/** CLI commands with a hostile value in their free-text and numeric places. */
const CLI_COMMANDS: ((v: string) => string[])[] = [
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

const hostileArguments = fc.oneof(
  controlText,
  fc.constantFrom('', '-1', 'NaN', '1e308', '9007199254740993', 'x'.repeat(100_000)),
);

/** NUL cannot travel in an argv (the OS refuses it): it is replaced by the next worst. */
const asArgument = (value: string) => value.replaceAll('\u0000', '\u0001').slice(0, HUGE);

/** One answer of the CLI to a hostile argument vector, judged as the spawned one is. */
function judgeCli(result: BoundaryResult, argv: string[], ran: Ran | 'timeout'): void {
  result.payloads += 1;
  if (ran === 'timeout') {
    result.hangs += 1;
    return;
  }
  if (ran.code === 0) {
    result.accepted += 1;
    return;
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

/**
 * One CLI command, `runs` hostile values, through the CLI's own `main` in this process (its parsing, its
 * checks, its API calls): what a process each cannot afford. Its output is caught, not printed.
 */
async function runCliInProcess(
  env: FuzzEnv,
  command: (v: string) => string[],
  name: string,
  options: SuiteOptions,
): Promise<BoundaryResult> {
  const started = performance.now();
  const served = await serveApi(createApiServer(env.deps, { rateLimitPerMinute: 1_000_000 }), 0, '127.0.0.1');
  const result: BoundaryResult = { ...emptyResult(name, 'cli'), families: { 'hostile argument': options.runs } };
  const cliEnv = cliEnvOf(served.port, env.key);
  const saved = Object.fromEntries(Object.keys(cliEnv).map((k) => [k, process.env[k]]));
  Object.assign(process.env, cliEnv);
  const { main } = await import('../../src/operator/cli/main');
  try {
    const values = fc.sample(hostileArguments, { numRuns: options.runs, seed: options.seed + name.length });
    for (const value of values) {
      const argv = command(asArgument(value));
      judgeCli(
        result,
        argv,
        await withTimeout(
          capturing(() => main(argv)),
          30_000,
        ),
      );
    }
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await served.close();
  }
  result.engageMs = await engageLatency(env, 'cli');
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

const cliEnvOf = (port: number, key: string) => ({
  WARDEN_API_URL: `http://127.0.0.1:${port}`,
  WARDEN_API_KEY: key,
  DATABASE_URL: '',
});

/** Runs one in-process CLI call with its stdout dropped and its stderr kept. */
async function capturing(call: () => Promise<number>): Promise<Ran> {
  const { stdout, stderr } = process;
  const writeOut = stdout.write.bind(stdout);
  const writeErr = stderr.write.bind(stderr);
  let text = '';
  stdout.write = (() => true) as typeof stdout.write;
  stderr.write = ((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  }) as typeof stderr.write;
  try {
    const code = await call();
    return { code, stderr: text };
  } finally {
    stdout.write = writeOut;
    stderr.write = writeErr;
  }
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

/** A sample of the same argument vectors through the real `bin/warden.cjs` against the API on a port. */
async function runCli(env: FuzzEnv, options: SuiteOptions): Promise<BoundaryResult> {
  const started = performance.now();
  const served = await serveApi(createApiServer(env.deps, { rateLimitPerMinute: 1_000_000 }), 0, '127.0.0.1');
  const hostile = fc.sample(hostileArguments, { numRuns: options.cliSamples, seed: options.seed });
  const result: BoundaryResult = { ...emptyResult(CLI_BIN, 'cli'), families: { 'hostile argument': hostile.length } };
  try {
    for (const [i, value] of hostile.entries()) {
      const argv = CLI_COMMANDS[i % CLI_COMMANDS.length]!(asArgument(value));
      judgeCli(result, argv, await withTimeout(runWarden(argv, cliEnvOf(served.port, env.key)), 30_000));
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
    const failures = verdictFailures(r, minPayloadsOf(r, minPayloads));
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
