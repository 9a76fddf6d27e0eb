// Helpers for the project's own scripts. Node built-ins only: these run
// before `npm ci` on a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = process.env.WARDEN_TOOLS_DIR ?? join(root, '.tools');
export const toolPaths = {
  temporal: join(toolsDir, 'bin', 'temporal'),
  testServer: join(toolsDir, 'bin', 'temporal-test-server'),
};

export function log(message) {
  process.stderr.write(`[warden] ${message}\n`);
}

/** Runs a command to completion, inheriting stdio; throws on a non-zero exit. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
  return result;
}

/** Runs a command and returns its trimmed stdout, or undefined if it fails. */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: root, ...options });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.trim();
}

export function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}
