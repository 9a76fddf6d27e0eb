// promtool, for the tests that check the Prometheus rules and configuration
// under infra/: Debian's prometheus package, installed when absent (as root),
// like PostgreSQL in postgres.mjs. Only the tool is used; no server is run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log, run } from './lib.mjs';

const PROMTOOL = '/usr/bin/promtool';

/** The path of promtool, installing Debian's prometheus package first when it is missing. */
export function ensurePromtool() {
  if (existsSync(PROMTOOL)) return PROMTOOL;
  if (process.getuid?.() !== 0) {
    throw new Error('promtool is not installed and we are not root: install Debian\'s prometheus package');
  }
  log('installing promtool (apt-get install prometheus)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Other test runs may be installing too: wait for dpkg's lock instead of failing.
  const args = ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'prometheus'];
  if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0) {
    run('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=300'], { env });
    run('apt-get', args, { env });
  }
  if (!existsSync(PROMTOOL)) throw new Error(`the prometheus package is installed but ${PROMTOOL} is missing`);
  return PROMTOOL;
}
