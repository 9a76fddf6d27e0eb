// A throwaway PostgreSQL cluster for the tests: Debian's postgresql package,
// installed when absent (as root), initdb + pg_ctl on a temporary folder.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log, run } from './lib.mjs';

function postgresBinDir() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0], 'bin') : undefined;
}

function installPostgres() {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "PostgreSQL is not installed and we are not root: install Debian's postgresql package, or set DATABASE_URL",
    );
  }
  log('installing PostgreSQL (apt-get install postgresql)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'postgresql'], { stdio: 'inherit', env });
  if (install().status !== 0) {
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', 'postgresql'], { env });
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a cluster; returns its URL and a stop function. `durable` flushes every commit to disk (fsync,
 * full page writes), as a deployment does: for benchmarks of write rates, never needed by a test.
 */
export async function startPostgres({ durable = false } = {}) {
  let bin = postgresBinDir();
  if (!bin) {
    installPostgres();
    bin = postgresBinDir();
    if (!bin) throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql after install');
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'warden-pg-'));
  const dataDir = join(dir, 'data');
  chmodSync(dir, 0o755);
  const owner = asRoot ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : undefined;
  if (asRoot) {
    if (!Number.isInteger(owner)) throw new Error('the postgres system user is missing');
    chownSync(dir, owner, owner);
  }
  // initdb and postgres refuse to run as root: run them as the postgres user.
  const pgRun = (tool, args) => {
    const command = asRoot ? 'runuser' : join(bin, tool);
    const fullArgs = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    const result = spawnSync(command, fullArgs, { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr || result.stdout}`);
  };
  const port = await freePort();
  pgRun('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  // fsync=off survives a crash of the server (the OS keeps what was written), not of the machine: fine for
  // tests. synchronous_commit stays on: off, a crash (`pg_ctl -m immediate`) loses commits already answered,
  // which no real deployment does and which would make every crash test report lost writes.
  const flush = durable ? '-c fsync=on -c full_page_writes=on' : '-c fsync=off -c full_page_writes=off';
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${flush} -c max_connections=200`;
  pgRun('pg_ctl', ['-D', dataDir, '-w', '-l', join(dir, 'postgres.log'), '-o', options, 'start']);
  // Clients connect over the Unix socket in `dir` (libpq and node-postgres read `host` from the query):
  // on a loopback TCP connection each query's write ran the kernel's TCP path for the server too, and that
  // was the largest single cost of a governed deal in the worker's profile. The TCP port stays open.
  const url = `postgres://postgres@localhost:${port}/postgres?host=${encodeURIComponent(dir)}`;
  log(`PostgreSQL (${bin}) on ${url}, data in ${dataDir}`);
  return {
    url,
    /** Stops the server but keeps its data (for restart tests). */
    pause() {
      pgRun('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    },
    /** Kills the server as a crash would (`pg_ctl -m immediate`): no shutdown checkpoint, recovery at the next start. */
    crash() {
      pgRun('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    },
    resume() {
      pgRun('pg_ctl', ['-D', dataDir, '-w', '-l', join(dir, 'postgres.log'), '-o', options, 'start']);
    },
    stop() {
      try {
        pgRun('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
