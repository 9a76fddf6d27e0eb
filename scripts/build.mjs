// Compiled JavaScript for what runs at every call or start: the `warden` CLI
// and the workers, each one esbuild bundle of our code (npm packages stay
// external), and the workflow bundle the worker would otherwise build with
// webpack at every start. Rebuilt only when a source is newer than the output;
// a stale output is never run (bin/built.cjs): the TypeScript is.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { log, root } from './lib.mjs';

const require = createRequire(import.meta.url);
const { isFresh } = require('../bin/built.cjs');

// The CLI starts at every call: its npm packages go into its bundle too (no module resolution, one file
// for V8's code cache, bin/warden.cjs), except those it loads only on the embedded-database or worker
// paths and those with native or wasm parts. The workers load the SDK's packages as they ship. The CLI
// runs under V8's code cache (bin/built.cjs), where Node 20 gives a script no import(): its external
// packages are required (PGlite ships CommonJS too).
const CLI_EXTERNAL = ['@temporalio/*', '@electric-sql/pglite', 'pg-native'];
const PROGRAMS = [
  { entry: 'src/operator/cli/bin.ts', output: 'dist/cli.cjs', external: CLI_EXTERNAL, noDynamicImport: true },
  { entry: 'workers/local.ts', output: 'dist/local.cjs' },
  { entry: 'workers/main.ts', output: 'dist/worker.cjs' },
];
export const WORKFLOW_BUNDLE = 'dist/workflows.bundle.js';

/** Our sources an entry reaches (esbuild's import graph), relative to the root. */
async function sourcesOf(entry, write, outfile, external, noDynamicImport = false) {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    ...(external ? { external } : { packages: 'external' }),
    ...(noDynamicImport ? { supported: { 'dynamic-import': false } } : {}),
    metafile: true,
    logLevel: 'error',
    write,
    ...(outfile ? { outfile: join(root, outfile) } : { outdir: join(root, 'dist', '.graph') }),
  });
  // Our sources and this build's own settings; the lock stands for the npm packages bundled in.
  const sources = Object.keys(result.metafile.inputs)
    .map((file) => relative(root, join(root, file)))
    .filter((file) => !file.startsWith('node_modules/'));
  return [...sources, 'scripts/build.mjs', ...(external ? ['package-lock.json'] : [])];
}

function recordInputs(output, inputs) {
  writeFileSync(join(root, `${output}.inputs.json`), `${JSON.stringify(inputs)}\n`);
}

export async function buildAll({ quiet = false } = {}) {
  mkdirSync(join(root, 'dist'), { recursive: true });
  const say = (line) => !quiet && log(line);
  for (const { entry, output, external, noDynamicImport } of PROGRAMS) {
    if (isFresh(output)) continue;
    const started = Date.now();
    const inputs = await sourcesOf(entry, true, output, external, noDynamicImport);
    recordInputs(output, inputs);
    say(`built ${output} from ${inputs.length} sources in ${Date.now() - started} ms`);
  }
  if (!isFresh(WORKFLOW_BUNDLE)) {
    const started = Date.now();
    // The SDK's own bundler, as the worker would run it; the lock stands for the npm packages it pulls in.
    const { bundleWorkflowCode } = require('@temporalio/worker');
    const entry = 'workflows/index.ts';
    const quietLogger = {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn: (m) => console.warn(m),
      error: (m) => console.error(m),
    };
    const [{ code }, sources] = await Promise.all([
      bundleWorkflowCode({ workflowsPath: join(root, entry), logger: quietLogger }),
      sourcesOf(entry, false),
    ]);
    writeFileSync(join(root, WORKFLOW_BUNDLE), code);
    recordInputs(WORKFLOW_BUNDLE, [...sources, 'package-lock.json']);
    say(`built ${WORKFLOW_BUNDLE} from ${sources.length} sources in ${Date.now() - started} ms`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildAll({ quiet: process.argv.includes('--quiet') });
}
