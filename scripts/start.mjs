// `npm start` on a fresh clone: Node built-ins only until set-up has run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { log, root } from './lib.mjs';
import { setup } from './setup.mjs';

try {
  setup();
} catch (error) {
  log(`set-up failed: ${error.message}`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'workers', 'local.ts')], {
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
