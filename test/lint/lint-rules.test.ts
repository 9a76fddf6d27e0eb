import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The import rules are only as good as the proof that they fire. The bad
// fixture is linted with the project's own .oxlintrc.json, copied with it into
// a scratch tree that has the project's layout (workflows/, src/domain/,
// activities/), so the config's path-scoped overrides apply to it exactly as
// they would to a real file there, without a bad file ever sitting in the tree.
const root = path.join(__dirname, '..', '..');
const fixture = path.join(__dirname, 'fixtures', 'workflows', 'bad-workflow.ts');
const oxlint = path.join(root, 'node_modules', '.bin', 'oxlint');

interface Diagnostic {
  code: string;
  filename: string;
  labels: { span: { line: number } }[];
}

function lint(cwd: string, paths: string[] = []): { status: number | null; diagnostics: Diagnostic[]; output: string } {
  const result = spawnSync(oxlint, ['--format', 'json', ...paths], { cwd, encoding: 'utf8' });
  const report = JSON.parse(result.stdout) as { diagnostics: Diagnostic[] };
  return { status: result.status, diagnostics: report.diagnostics, output: result.stdout + result.stderr };
}

/** `rule@line` for each diagnostic in one file, sorted. */
function firing(diagnostics: Diagnostic[], filename: string): string[] {
  return diagnostics
    .filter((d) => d.filename === filename)
    .map((d) => `${d.code}@${d.labels[0]?.span.line}`)
    .sort();
}

// What the fixture expects, from its trailing comments: `// import/no-nodejs-modules` on line 5 becomes
// `import(no-nodejs-modules)@5`, `// no-restricted-imports` becomes `eslint(no-restricted-imports)@…`.
const RULE_COMMENT = /\/\/ ((?:import|typescript)\/[a-z-]+|no-restricted-[a-z]+)\b/;
const expected = readFileSync(fixture, 'utf8')
  .split('\n')
  .flatMap((text, index) => {
    const rule = RULE_COMMENT.exec(text)?.[1];
    if (rule === undefined) return [];
    const [plugin, name] = rule.includes('/') ? rule.split('/') : ['eslint', rule];
    return [`${plugin}(${name})@${index + 1}`];
  });
const FLOATING = expected.filter((entry) => entry.startsWith('typescript(no-floating-promises)'));
const IMPORT_BANS = expected.filter((entry) => !FLOATING.includes(entry));

describe('lint rules', () => {
  let scratch: string;
  let scratchRun: ReturnType<typeof lint>;
  const placed = {
    workflow: 'workflows/bad-workflow.ts',
    domain: 'src/domain/fixture/bad-rule.ts',
    activity: 'activities/bad-activity.ts',
  };

  beforeAll(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'warden-lint-'));
    copyFileSync(path.join(root, '.oxlintrc.json'), path.join(scratch, '.oxlintrc.json'));
    symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    writeFileSync(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', module: 'preserve', moduleResolution: 'bundler' },
      }),
    );
    for (const target of Object.values(placed)) {
      mkdirSync(path.join(scratch, path.dirname(target)), { recursive: true });
      copyFileSync(fixture, path.join(scratch, target));
    }
    scratchRun = lint(scratch, Object.values(placed));
  });

  it('reads every banned kind from the fixture', () => {
    const kinds = new Set(expected.map((entry) => entry.split('@')[0]));
    expect([...kinds].sort()).toEqual([
      'eslint(no-restricted-globals)',
      'eslint(no-restricted-imports)',
      'eslint(no-restricted-properties)',
      'import(no-nodejs-modules)',
      'typescript(no-floating-promises)',
    ]);
    expect(expected.filter((entry) => entry.startsWith('eslint(no-restricted-imports)'))).toHaveLength(8);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('bans Node built-ins, database and Temporal client/worker/activity packages, activities/ (values and types) and adapters in workflows/', () => {
    expect(scratchRun.status, scratchRun.output).toBe(1);
    expect(firing(scratchRun.diagnostics, placed.workflow)).toEqual([...IMPORT_BANS, ...FLOATING].sort());
  });

  it('applies the same bans in src/domain/', () => {
    expect(firing(scratchRun.diagnostics, placed.domain)).toEqual([...IMPORT_BANS, ...FLOATING].sort());
  });

  it('makes a floating promise an error everywhere, and scopes the import bans to the pure rooms', () => {
    expect(firing(scratchRun.diagnostics, placed.activity)).toEqual(FLOATING);
  });

  it('passes on the real tree (the fixture itself is ignored there)', () => {
    const run = lint(root);
    expect(
      run.diagnostics.map((d) => `${d.filename}:${d.labels[0]?.span.line} ${d.code}`),
      run.output,
    ).toEqual([]);
    expect(run.status).toBe(0);
  }, 120_000);
});
