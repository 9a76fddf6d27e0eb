import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// tsconfig.pure.json sets `types: []`, but that only stops Node's types from
// being loaded by default: a `/// <reference types="node" />` anywhere in the
// import graph (kysely, pg, @grpc/grpc-js behind @temporalio/client and
// @temporalio/activity) still loads them, and then `process` or `Buffer` in a
// workflow type-checks. So the program itself is checked here: which files it
// holds, and that a Node global in it is an error.
const root = path.join(__dirname, '..', '..');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(tsc, args, { cwd: root, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('the pure type-check (tsconfig.pure.json)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'warden-pure-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('holds only src/domain, workflows and Node-free packages', () => {
    const listed = run(['-p', 'tsconfig.pure.json', '--listFilesOnly']);
    expect(listed.status, listed.output).toBe(0);
    const files = listed.output
      .trim()
      .split('\n')
      .map((file) => path.relative(root, file));
    const ours = files.filter((file) => !file.startsWith('node_modules/'));
    expect(ours.filter((file) => !/^(src\/domain|workflows)\//.test(file))).toEqual([]);
    const banned = /^node_modules\/(@types\/node|undici-types|kysely|pg|@grpc|@temporalio\/(client|worker|activity))\//;
    expect(files.filter((file) => banned.test(file))).toEqual([]);
  });

  it('fails on a Node global', () => {
    const probe = path.join(scratch, 'probe.ts');
    writeFileSync(probe, 'export const env = process.env;\nexport const bytes = Buffer.from("x");\n');
    const config = path.join(scratch, 'tsconfig.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(root, 'tsconfig.pure.json'),
        include: [path.join(root, 'src/domain'), path.join(root, 'workflows'), probe],
      }),
    );
    const checked = run(['-p', config, '--noEmit']);
    expect(checked.status).not.toBe(0);
    const errors = checked.output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors.map((line) => /\((\d+),\d+\): error (TS\d+)/.exec(line)?.slice(1).join(' '))).toEqual([
      '1 TS2591',
      '2 TS2591',
    ]);
  });
});
