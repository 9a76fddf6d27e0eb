#!/usr/bin/env node
// `npx warden …`: the CLI compiled by set-up (scripts/build.mjs) when it is
// up to date with its sources, else the TypeScript through tsx.
const { isFresh } = require('./built.cjs');

if (isFresh('dist/cli.cjs')) {
  require('../dist/cli.cjs');
} else {
  require('tsx/cjs');
  require('../src/operator/cli/main.ts');
}
