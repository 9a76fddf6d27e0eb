// One table on stdout and one JSON summary under .data/reliability/ for a harness run.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config/paths';
import type { ScenarioResult } from './scenario';

export const RESULTS_DIR = path.join(projectRoot, '.data', 'reliability');

function cell(value: number | string): string {
  if (typeof value === 'string') return value;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** Prints every scenario's verdict and figures, writes `<name>.json`, and answers whether all passed. */
export function report(name: string, results: ScenarioResult[], extra: Record<string, unknown> = {}): boolean {
  const passed = results.every((r) => r.passed);
  console.log(`\n${name}: ${passed ? 'PASSED' : 'FAILED'}`);
  for (const result of results) {
    console.log(`\n  ${result.passed ? 'pass' : 'FAIL'}  ${result.name}`);
    const figures = Object.entries(result.figures);
    const width = Math.max(0, ...figures.map(([k]) => k.length));
    for (const [key, value] of figures) console.log(`        ${key.padEnd(width)}  ${cell(value)}`);
    for (const failure of result.failures) console.log(`        ✗ ${failure}`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ name, passed, at: new Date().toISOString(), machine: `${process.platform} ${process.arch}`, ...extra, results }, null, 2)}\n`,
  );
  console.log(`\nsummary written to ${path.relative(projectRoot, file)}`);
  return passed;
}
