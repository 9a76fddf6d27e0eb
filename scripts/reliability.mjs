// `npm run chaos`, `npm run fuzz`, `npm run chaos:endurance`: set-up, then one
// of the reliability harness's entries (reliability/<name>.main.ts). The
// harness starts its own PostgreSQL and Temporal (it kills and restarts
// them), so no DATABASE_URL is needed. Figures are printed and written under
// .data/reliability/; the exit code says whether every verdict held.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { setup } from './setup.mjs';

const name = process.argv[2];
let code = 1;
try {
  if (!name) throw new Error('usage: node scripts/reliability.mjs <chaos|fuzz|endurance>');
  setup({ quiet: true });
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'reliability', `${name}.main.ts`), ...process.argv.slice(3)],
    { stdio: 'inherit', cwd: root, env: process.env },
  );
  code = result.status ?? 1;
} catch (error) {
  log(`the reliability harness could not run: ${error.message}`);
}
process.exit(code);
