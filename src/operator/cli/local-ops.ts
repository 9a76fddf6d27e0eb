import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { ApiError } from '../api/http';
import { findOperation, invokeOperation, LOCAL_OWNER, type OperationDeps } from '../operations';

// Only for the embedded database, which admits one process: `warden` without a key runs its operations
// through the one process that holds PGlite, as the local owner. Loopback only, with a per-start token in
// a 0600 file (whoever can read it could open the database folder as well). It answers as the API does:
// `POST /operations/<name>`, the input as the body, errors as { error, message }.

const OPS_FILE = 'ops.json';
const OpsFileSchema = z.object({ port: z.number().int(), token: z.string(), pid: z.number().int() });
const BODY_LIMIT = 256 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
      if (body.length > BODY_LIMIT) reject(new ApiError(400, 'invalid_request', 'body: too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export async function serveLocalOps(deps: OperationDeps, dataDir: string): Promise<{ close(): Promise<void> }> {
  const token = randomBytes(24).toString('hex');
  const expected = Buffer.from(`Bearer ${token}`);
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return reply(401, { error: 'unauthenticated', message: 'bad local ops token' });
    const name = /^\/operations\/([A-Za-z.]+)$/.exec(req.url ?? '')?.[1];
    const op = name === undefined ? undefined : findOperation(name);
    if (req.method !== 'POST' || !op) return reply(404, { error: 'not_found', message: `no operation ${name ?? ''}` });
    readBody(req)
      .then((text) => {
        let input: unknown;
        try {
          input = text === '' ? {} : JSON.parse(text);
        } catch (error) {
          throw new ApiError(400, 'invalid_request', `body: ${(error as Error).message}`);
        }
        return invokeOperation(op, deps, LOCAL_OWNER, input);
      })
      .then(
        (result) => reply(200, result),
        (error: unknown) => {
          if (error instanceof ApiError)
            return reply(error.status, { error: error.code, message: error.message, ...error.extra });
          process.stderr.write(`warden local ops: ${(error as Error).stack ?? String(error)}\n`);
          reply(500, { error: 'internal', message: error instanceof Error ? error.message : String(error) });
        },
      );
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

/** Where the running Warden serves its local ops, and its token; undefined when none publishes them. */
export function connectLocalOps(dataDir: string): { url: string; token: string; pid: number } | undefined {
  try {
    const ops = OpsFileSchema.parse(JSON.parse(readFileSync(path.join(dataDir, OPS_FILE), 'utf8')));
    return { url: `http://127.0.0.1:${ops.port}`, token: ops.token, pid: ops.pid };
  } catch {
    return undefined;
  }
}
