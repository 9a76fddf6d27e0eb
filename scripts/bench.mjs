// `npm run bench:deals`: set-up, a throwaway PostgreSQL (unless DATABASE_URL
// is set), then the benchmark. Figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { startPostgres } from './postgres.mjs';
import { setup } from './setup.mjs';

let code = 1;
let postgres;
try {
  setup({ quiet: true });
  const env = { ...process.env };
  if (!env.DATABASE_URL) {
    postgres = await startPostgres();
    env.DATABASE_URL = postgres.url;
  }
  const script = process.argv[2] ?? 'deals';
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles a run.
  const result = spawnSync(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []),
      '--import',
      'tsx',
      join(root, 'benchmarks', `${script}.ts`),
    ],
    { stdio: 'inherit', cwd: root, env },
  );
  code = result.status ?? 1;
} catch (error) {
  log(`benchmark could not run: ${error.message}`);
} finally {
  postgres?.stop();
}
process.exit(code);
