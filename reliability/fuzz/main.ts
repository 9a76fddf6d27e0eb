// `npm run fuzz`: fast-check payloads against every boundary of Warden — the
// dev server from .tools/, a scratch PostgreSQL database, an in-process
// worker and the API in-process. FUZZ_RUNS (default 1000) payloads per
// boundary; FUZZ_SEED; FUZZ_ONLY (a regex of boundary names). Prints the
// table, writes .data/reliability/fuzz.json, exits non-zero on any failure.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { projectRoot, workflowsEntry } from '../../src/config/paths';
import { createScratchDatabase, createWardenDevServer } from '../../test/support/processes';
import { createFuzzEnv } from './env';
import { verdictFailures } from './runner';
import { formatTable, minPayloadsOf, runSuite } from './suite';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_101);
/** Environments run side by side (namespace, database, worker each): the control plane is one queue per namespace. */
const LANES = Number(process.env.FUZZ_LANES ?? 4);
const NAMESPACES = Array.from({ length: LANES }, (_, i) => `warden-fuzz-${i}`);

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const started = performance.now();
  // The server's state on disk: a whole run at 1,000 payloads a boundary outgrows an in-memory SQLite.
  const stateDir = mkdtempSync(path.join(tmpdir(), 'warden-fuzz-'));
  const log = (line: string) => process.stderr.write(`[fuzz] ${line}\n`);
  const [databases, server, bundle] = await Promise.all([
    Promise.all(NAMESPACES.map(() => createScratchDatabase('warden_fuzz'))),
    // The lead's raised buffered-events limits: several ~1 MB signals at one task otherwise force-close it.
    createWardenDevServer({ namespaces: NAMESPACES, dbFilename: path.join(stateDir, 'temporal.db') }),
    bundleWorkflowCode({ workflowsPath: workflowsEntry, logger: new DefaultLogger('ERROR') }),
  ]);
  const envs = await Promise.all(
    NAMESPACES.map((namespace, i) =>
      createFuzzEnv({ db: databases[i]!.db, address: server.address, namespace, workflowBundle: bundle }),
    ),
  );
  try {
    log(`${RUNS} payloads per boundary, seed ${SEED}, ${LANES} lanes`);
    const results = await runSuite(envs, {
      runs: RUNS,
      seed: SEED,
      cliSamples: Number(process.env.FUZZ_CLI_SAMPLES ?? 20),
      log,
      ...(process.env.FUZZ_ONLY ? { only: new RegExp(process.env.FUZZ_ONLY) } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`\nfuzz: ${RUNS} payloads per boundary, seed ${SEED}, ${seconds.toFixed(0)} s`);
    for (const line of formatTable(results, RUNS)) console.log(line);
    const failed = results.filter((r) => verdictFailures(r, minPayloadsOf(r, RUNS)).length > 0);
    const dir = path.join(projectRoot, '.data', 'reliability');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'fuzz.json'),
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          runsPerBoundary: RUNS,
          seed: SEED,
          seconds,
          passed: failed.length === 0,
          boundaries: results.map((r) => ({ ...r, failures: verdictFailures(r, minPayloadsOf(r, RUNS)) })),
        },
        null,
        2,
      )}\n`,
    );
    console.log(
      `\n${failed.length === 0 ? 'all verdicts pass' : `${failed.length} boundaries FAIL`}; summary in .data/reliability/fuzz.json`,
    );
    return failed.length === 0 ? 0 : 1;
  } finally {
    await Promise.all(envs.map((env) => env.stop()));
    await server.teardown();
    await Promise.all(databases.map((d) => d.drop()));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
