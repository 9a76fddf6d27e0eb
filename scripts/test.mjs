// `npm test`: set-up; the static checks (type-check with Node's types and
// the pure rooms without them, lint, format); then a throwaway PostgreSQL
// (unless DATABASE_URL is set) and vitest. Extra arguments go to vitest.
// Stops at the first step that fails and names it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { startPostgres } from './postgres.mjs';
import { ensureChromium, ensurePromtool } from './debian-tools.mjs';
import { setup } from './setup.mjs';

const started = Date.now();
const bin = (name) => join(root, 'node_modules', '.bin', name);
/** @type {string | undefined} The step that failed, named at the end. */
let failed;
function step(name, command, args, env = process.env) {
  log(name);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, env });
  const status = result.status ?? 1;
  if (status !== 0) failed = name;
  return status;
}

const STATIC_CHECKS = [
  ['type-check (tsc --noEmit -p tsconfig.json)', 'tsc', ['--noEmit', '-p', 'tsconfig.json']],
  [
    'type-check of src/domain and workflows without Node types (tsc --noEmit -p tsconfig.pure.json)',
    'tsc',
    ['--noEmit', '-p', 'tsconfig.pure.json'],
  ],
  ['lint (oxlint, type-aware)', 'oxlint', []],
  ['format (prettier --check)', 'prettier', ['--check', '.', '--log-level', 'warn']],
];

let code = 1;
let postgres;
try {
  setup();
  code = 0;
  for (const [name, tool, args] of STATIC_CHECKS) {
    code = step(name, bin(tool), args);
    if (code !== 0) break;
  }
  if (code === 0) {
    ensurePromtool();
    ensureChromium();
    const env = { ...process.env };
    if (!env.DATABASE_URL) {
      postgres = await startPostgres();
      env.DATABASE_URL = postgres.url;
    } else {
      log('using the PostgreSQL at DATABASE_URL');
    }
    code = step('tests (vitest run)', bin('vitest'), ['run', ...process.argv.slice(2)], env);
  }
} catch (error) {
  log(`tests could not run: ${error.message}`);
  code = 1;
} finally {
  postgres?.stop();
  if (failed) log(`failed step: ${failed}`);
  log(`npm test finished in ${((Date.now() - started) / 1000).toFixed(1)} s with exit code ${code}`);
}
process.exit(code);
