#!/usr/bin/env node
// `npx warden …`: the CLI compiled by set-up (scripts/build.mjs) when it is
// up to date with its sources, else the TypeScript through tsx.
const { isFresh, runCompiled } = require('./built.cjs');

if (isFresh('dist/cli.cjs')) {
  runCompiled('dist/cli.cjs');
} else {
  // tsx as a loader for ESM and CJS alike (the CLI loads its in-process parts with import()), which only
  // --import gives: a child process, on this path only (sources edited since the last build).
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const main = path.join(__dirname, '..', 'src', 'operator', 'cli', 'bin.ts');
  const child = spawnSync(process.execPath, ['--import', 'tsx', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (child.error) throw child.error;
  process.exitCode = child.status ?? 1;
}
