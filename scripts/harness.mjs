// The benchmarks' and the reliability harness's entry: set-up, a throwaway
// PostgreSQL with --postgres (unless DATABASE_URL is set), then the TypeScript
// file given. Figures are printed (and, for the harness, written under
// .data/reliability/); the exit code is the file's. --durable-postgres flushes
// every commit to disk as a deployment does: the benchmarks compare write rates.
//   node scripts/harness.mjs [--postgres|--durable-postgres] <file.ts> [arguments…]
// BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles a run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { startPostgres } from './postgres.mjs';
import { setup } from './setup.mjs';

const args = process.argv.slice(2);
const withPostgres = args[0] === '--postgres' || args[0] === '--durable-postgres';
const durable = args[0] === '--durable-postgres';
const [file, ...rest] = withPostgres ? args.slice(1) : args;
let code = 1;
let postgres;
try {
  if (!file) throw new Error('usage: node scripts/harness.mjs [--postgres|--durable-postgres] <file.ts> [arguments…]');
  setup({ quiet: true });
  const env = { ...process.env };
  if (withPostgres && !env.DATABASE_URL) {
    postgres = await startPostgres({ durable });
    env.DATABASE_URL = postgres.url;
  }
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const result = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, file), ...rest], {
    stdio: 'inherit',
    cwd: root,
    env,
  });
  code = result.status ?? 1;
} catch (error) {
  log(`${file ?? 'the harness'} could not run: ${error.message}`);
} finally {
  postgres?.stop();
}
process.exit(code);
