import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/paths';
import { closedPort, listening } from '../support/processes';

/** Resolves with the output once `text` appeared in it; rejects if the process ends first. */
const until = (child: ChildProcess, output: () => string, text: string) =>
  new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output().includes(text)) {
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`exited ${code} before "${text}":\n${output()}`)));
    check();
  });

// `npm start` as a service manager (or `timeout`) stops it: SIGTERM to its whole process group, which
// start.mjs forwards to the worker as well. The worker then took a second SIGTERM before its clean-up
// and ended there, leaving its dev server (a process group of its own) holding the port.
describe('npm start, stopped by a signal to its process group', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-local-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('stops its worker and its dev server, once, however many SIGTERMs arrive', async () => {
    const [temporalPort, uiPort, apiPort] = [await closedPort(), await closedPort(), await closedPort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: undefined,
      TEMPORAL_ADDRESS: undefined,
      WARDEN_DATA_DIR: dataDir,
      HOME: dataDir,
      WARDEN_TEMPORAL_PORT: String(temporalPort),
      WARDEN_UI_PORT: String(uiPort),
      WARDEN_API_PORT: String(apiPort),
      WARDEN_METRICS_PORT: '0',
      WARDEN_WORKER_METRICS_PORT: '0',
    };
    const child = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'start.mjs')], {
      cwd: projectRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(child, () => output, 'Warden is running');
      expect(await listening('127.0.0.1', temporalPort)).toBe(true);
      process.kill(-child.pid!, 'SIGTERM');
      process.kill(-child.pid!, 'SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('worker stopped');
      expect(output.match(/stopping Warden/g)).toHaveLength(1);
      expect(await listening('127.0.0.1', temporalPort)).toBe(false);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});
