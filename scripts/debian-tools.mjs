// Tools the tests run from Debian packages, installed when absent (as root),
// like PostgreSQL in postgres.mjs: promtool (prometheus) for the rules under
// infra/, and chromium for the operator page. Only the tools are used; no
// Prometheus server is run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log, run } from './lib.mjs';

function ensureDebianTool(path, pkg, what) {
  if (existsSync(path)) return path;
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} is not installed and we are not root: install Debian's ${pkg} package`);
  }
  log(`installing ${what} (apt-get install ${pkg})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Other test runs may be installing too: wait for dpkg's lock instead of failing.
  const args = ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', pkg];
  if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0) {
    run('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=300'], { env });
    run('apt-get', args, { env });
  }
  if (!existsSync(path)) throw new Error(`the ${pkg} package is installed but ${path} is missing`);
  return path;
}

/** The path of promtool, installing Debian's prometheus package first when it is missing. */
export function ensurePromtool() {
  return ensureDebianTool('/usr/bin/promtool', 'prometheus', 'promtool');
}

/** The path of Debian's chromium, for the operator page's browser test. */
export function ensureChromium() {
  return ensureDebianTool('/usr/bin/chromium', 'chromium', 'chromium');
}
