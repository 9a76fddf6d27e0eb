import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFresh, root } from '../../bin/built.cjs';
import { workflowSource } from '../../src/config/paths';

// Issue 16 item 5: the CLI and workers run compiled JavaScript and the worker a prebuilt workflow bundle,
// built by set-up (which the test command runs first) and never run once a source is newer.
describe('compiled outputs', () => {
  it('set-up leaves every compiled output up to date with its sources, and the worker takes the prebuilt bundle', () => {
    for (const output of ['dist/cli.cjs', 'dist/local.cjs', 'dist/worker.cjs', 'dist/workflows.bundle.js'])
      expect(isFresh(output), output).toBe(true);
    expect(workflowSource()).toEqual({
      workflowBundle: { codePath: path.join(root, 'dist', 'workflows.bundle.js') },
    });
  });

  it('an output older than one of its sources is stale, as is one without its list of sources', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-built-'));
    const output = path.relative(root, path.join(dir, 'out.js'));
    const source = path.join(dir, 'source.ts');
    writeFileSync(path.join(root, output), '');
    writeFileSync(source, '');
    expect(isFresh(output)).toBe(false);
    writeFileSync(path.join(root, `${output}.inputs.json`), JSON.stringify([path.relative(root, source)]));
    const built = new Date(Date.now() - 60_000);
    utimesSync(path.join(root, output), built, built);
    utimesSync(source, new Date(built.getTime() - 1000), new Date(built.getTime() - 1000));
    expect(isFresh(output)).toBe(true);
    utimesSync(source, new Date(built.getTime() + 1000), new Date(built.getTime() + 1000));
    expect(isFresh(output)).toBe(false);
  });

  it('a compiled output runs with its V8 code cache, and a rebuilt one never runs the cache of the old', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-cache-'));
    const output = path.relative(root, path.join(dir, 'out.cjs'));
    const run = () =>
      execFileSync(process.execPath, [
        '-e',
        `require(${JSON.stringify(path.join(root, 'bin', 'built.cjs'))}).runCompiled(${JSON.stringify(output)})`,
      ]).toString();
    const stamp = () =>
      readFileSync(path.join(root, `${output}.v8cache`))
        .toString('latin1')
        .split('\n')[0];
    writeFileSync(path.join(root, output), "console.log(require('node:path').basename(__filename), 'one')");
    expect(run()).toBe('out.cjs one\n');
    const first = stamp();
    expect(first).toContain(process.version);
    expect(run()).toBe('out.cjs one\n');
    expect(stamp()).toBe(first);
    // Rebuilt the same length, so V8's own check (the source's length) would take the old cache.
    writeFileSync(path.join(root, output), "console.log(require('node:path').basename(__filename), 'two')");
    utimesSync(path.join(root, output), new Date(), new Date(Date.now() + 5000));
    expect(run()).toBe('out.cjs two\n');
    expect(stamp()).not.toBe(first);
  });
});
