// `npm start` on a fresh clone: Node built-ins only until set-up has run.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { setup } from './setup.mjs';

try {
  setup();
} catch (error) {
  log(`set-up failed: ${error.message}`);
  process.exit(1);
}
// The worker compiled by set-up while it is up to date with its sources, else the TypeScript through tsx.
const { isFresh } = createRequire(import.meta.url)('../bin/built.cjs');
const program = isFresh('dist/local.cjs')
  ? [join(root, 'dist', 'local.cjs')]
  : ['--import', 'tsx', join(root, 'workers', 'local.ts')];
const child = spawn(process.execPath, program, {
  stdio: 'inherit',
  cwd: root,
});
// The terminal's Ctrl-C reaches the child too; the child owns the shutdown.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (signal === 'SIGTERM') child.kill('SIGTERM');
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
