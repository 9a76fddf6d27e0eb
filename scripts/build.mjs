// Compiled JavaScript for what runs at every call: the `warden` CLI, one
// esbuild bundle of our code (npm packages stay external). Rebuilt only when a
// source is newer than the output; bin/warden.cjs runs TypeScript otherwise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { log, root } from './lib.mjs';

const { isFresh } = createRequire(import.meta.url)('../bin/built.cjs');

const TARGETS = [{ entry: 'src/operator/cli/main.ts', output: 'dist/cli.cjs' }];

export async function buildAll({ quiet = false } = {}) {
  for (const { entry, output } of TARGETS) {
    if (isFresh(output)) continue;
    const started = Date.now();
    mkdirSync(join(root, 'dist'), { recursive: true });
    const result = await build({
      entryPoints: [join(root, entry)],
      outfile: join(root, output),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      metafile: true,
      logLevel: 'error',
    });
    const inputs = Object.keys(result.metafile.inputs).map((file) => relative(root, join(root, file)));
    writeFileSync(join(root, `${output}.inputs.json`), `${JSON.stringify(inputs)}\n`);
    if (!quiet) log(`built ${output} from ${inputs.length} sources in ${Date.now() - started} ms`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildAll({ quiet: process.argv.includes('--quiet') });
}
