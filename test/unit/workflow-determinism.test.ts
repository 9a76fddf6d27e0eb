import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Workflow code must replay identically: no I/O, no wall clock, no randomness,
// no Node APIs. The SDK's sandbox catches some of this at run time; this
// catches it at review time, file by file.
const dir = path.join(__dirname, '..', '..', 'workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
const forbidden: [RegExp, string][] = [
  [/from ['"](node:|fs|path|os|crypto|child_process|net|http|https)['"/]/, 'imports a Node API'],
  [/\bDate\.now\(/, 'reads the wall clock (use workflow time: new Date())'],
  [/\bMath\.random\(/, 'uses randomness (use uuid4())'],
  [/\bsetTimeout\(|\bsetInterval\(/, 'uses a timer (use sleep())'],
  [/from ['"]\.\.\/src\/db\b|from ['"]kysely['"]|from ['"]pg['"]/, 'touches the database (do it in an activity)'],
  [/^import (?!type )[^;]*from ['"]\.\.\/activities/m, 'imports activity code (import type only)'],
];

describe('workflow files stay deterministic', () => {
  it.each(files)('%s', (file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const problems = forbidden.filter(([pattern]) => pattern.test(source)).map(([, why]) => why);
    expect(problems).toEqual([]);
  });
});
