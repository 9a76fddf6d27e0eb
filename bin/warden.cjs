#!/usr/bin/env node
// `npx warden …`: runs the TypeScript CLI through tsx, no build step.
require('tsx/cjs');
require('../src/operator/cli/main.ts');
