import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { DATA_METHODS, type DataAccess } from './data-access';

// Only for the embedded database: lets `warden` read and edit through the one
// process that holds PGlite. Loopback only, with a per-start token in a 0600 file.

const OPS_FILE = 'ops.json';
const RequestSchema = z.strictObject({ method: z.enum(DATA_METHODS), args: z.array(z.unknown()).max(4) });
const OpsFileSchema = z.object({ port: z.number().int(), token: z.string(), pid: z.number().int() });

export async function serveLocalOps(access: DataAccess, dataDir: string): Promise<{ close(): Promise<void> }> {
  const token = randomBytes(24).toString('hex');
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    if (req.method !== 'POST' || req.url !== '/rpc') return reply(404, { error: 'not found' });
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return reply(401, { error: 'bad token' });
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      let parsed: z.infer<typeof RequestSchema>;
      try {
        parsed = RequestSchema.parse(JSON.parse(body));
      } catch (error) {
        return reply(400, { error: `bad request: ${error instanceof Error ? error.message : String(error)}` });
      }
      const fn = access[parsed.method] as (...args: unknown[]) => Promise<unknown>;
      fn(...parsed.args).then(
        (result) => reply(200, { result }),
        (error: unknown) => reply(500, { error: error instanceof Error ? error.message : String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const file = path.join(dataDir, OPS_FILE);
  writeFileSync(file, JSON.stringify({ port: (server.address() as AddressInfo).port, token, pid: process.pid }), {
    mode: 0o600,
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        rmSync(file, { force: true });
        server.close(() => resolve());
      }),
  };
}

/** A DataAccess that calls the running Warden; undefined when none publishes one. */
export function connectLocalOps(dataDir: string): DataAccess | undefined {
  let ops: z.infer<typeof OpsFileSchema>;
  try {
    ops = OpsFileSchema.parse(JSON.parse(readFileSync(path.join(dataDir, OPS_FILE), 'utf8')));
  } catch {
    return undefined;
  }
  const call =
    (method: string) =>
    async (...args: unknown[]): Promise<unknown> => {
      const response = await fetch(`http://127.0.0.1:${ops.port}/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method, args }),
      });
      const body = (await response.json()) as { result?: unknown; error?: string };
      if (!response.ok)
        throw new Error(`running Warden (pid ${ops.pid}) answered ${response.status}: ${body.error ?? 'no detail'}`);
      return body.result;
    };
  return Object.fromEntries(DATA_METHODS.map((m) => [m, call(m)])) as unknown as DataAccess;
}
