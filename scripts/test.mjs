// `npm test`: set-up, a throwaway PostgreSQL (unless DATABASE_URL is set),
// type-check, then vitest. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { startPostgres } from './postgres.mjs';
import { ensureChromium, ensurePromtool } from './debian-tools.mjs';
import { setup } from './setup.mjs';

const started = Date.now();
function step(command, args, env) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, env });
  return result.status ?? 1;
}

let code = 1;
let postgres;
try {
  setup();
  ensurePromtool();
  ensureChromium();
  const env = { ...process.env };
  if (!env.DATABASE_URL) {
    postgres = await startPostgres();
    env.DATABASE_URL = postgres.url;
  } else {
    log('using the PostgreSQL at DATABASE_URL');
  }
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  log('type-check (tsc --noEmit)');
  code = step(bin('tsc'), ['--noEmit', '-p', '.'], env);
  if (code === 0) code = step(bin('vitest'), ['run', ...process.argv.slice(2)], env);
} catch (error) {
  log(`tests could not run: ${error.message}`);
  code = 1;
} finally {
  postgres?.stop();
  log(`npm test finished in ${((Date.now() - started) / 1000).toFixed(1)} s with exit code ${code}`);
}
process.exit(code);
