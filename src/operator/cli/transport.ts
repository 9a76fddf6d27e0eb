import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../../config/index';
import type { Identity } from '../../domain/identity/roles';
import { describeIssues } from '../../domain/shared/validation';
import type { OperationInput, OperationName, OperationOutput } from '../operations';
import type { Transport } from './in-process';

/** Where the CLI finds the API when only a key is given: the API `npm start` and the compose stack serve. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
const DEFAULT_PROFILE = path.join(os.homedir(), '.config', 'warden', 'profile.json');

/** The API (or the local Warden) refused or failed a call: its status, code and message, which names the field. */
export class OperationFailed extends Error {
  override name = 'OperationFailed';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Bad configuration of the caller's identity (key, profile, API URL): a usage error, exit 2. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}

/** How a command reaches Warden: its operations, by name, as the caller's identity. */
export interface Caller {
  call<N extends OperationName>(name: N, input: OperationInput<N>): Promise<OperationOutput<N>>;
  close(): Promise<void>;
}

const ApiUrlSchema = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });
const ProfileSchema = z.strictObject({ apiUrl: ApiUrlSchema.optional(), key: z.string().min(1, 'required') });

function apiUrlFromEnv(): string | undefined {
  const value = process.env.WARDEN_API_URL;
  if (value === undefined || value === '') return undefined;
  const parsed = ApiUrlSchema.safeParse(value);
  if (!parsed.success)
    throw new IdentityError(`WARDEN_API_URL: ${describeIssues(parsed.error).replace(/^payload: /, '')}`);
  return parsed.data.replace(/\/+$/, '');
}

/**
 * The profile file (`$WARDEN_PROFILE`, else ~/.config/warden/profile.json), refused unless only its owner
 * may read it: it holds a key.
 */
function readProfile(): z.infer<typeof ProfileSchema> | undefined {
  const file = process.env.WARDEN_PROFILE || DEFAULT_PROFILE;
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    if (process.env.WARDEN_PROFILE) throw new IdentityError(`WARDEN_PROFILE: no profile file ${file}`);
    return undefined;
  }
  if ((mode & 0o077) !== 0)
    throw new IdentityError(
      `profile ${file}: mode ${(mode & 0o777).toString(8).padStart(4, '0')} lets others read its key; run chmod 600 ${file}`,
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new IdentityError(`profile ${file}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = ProfileSchema.safeParse(json);
  if (!parsed.success) throw new IdentityError(`profile ${file}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The key the caller acts with and the API it goes to: --key, WARDEN_API_KEY, then the profile. */
export function resolveKey(flagKey: string | undefined): { key: string; apiUrl: string } | undefined {
  const key = flagKey || process.env.WARDEN_API_KEY;
  if (key) return { key, apiUrl: apiUrlFromEnv() ?? DEFAULT_API_URL };
  const profile = readProfile();
  if (!profile) return undefined;
  return { key: profile.key, apiUrl: apiUrlFromEnv() ?? profile.apiUrl?.replace(/\/+$/, '') ?? DEFAULT_API_URL };
}

/** One POST and its answer: node's own client, not fetch, whose first call costs a short command ~30 ms. */
function post(url: string, bearer: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${bearer}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Calls an API (or the local ops endpoint, which answers the same way) with a bearer key. */
export function httpTransport(baseUrl: string, bearer: string, what = `the Warden API at ${baseUrl}`): Transport {
  const request = async (route: string, body: unknown): Promise<unknown> => {
    let response: { status: number; text: string };
    try {
      response = await post(`${baseUrl}${route}`, bearer, JSON.stringify(body ?? {}));
    } catch (error) {
      throw new Error(`could not reach ${what}: ${(error as Error).message}`);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(response.text);
    } catch {
      answer = { error: 'internal', message: response.text.slice(0, 500) };
    }
    if (response.status < 200 || response.status > 299) {
      const { error, message, ...extra } = answer as { error?: string; message?: string };
      throw new OperationFailed(response.status, error ?? 'error', message ?? `HTTP ${response.status}`, extra);
    }
    return answer;
  };
  return { call: (name, input) => request(`/operations/${name}`, input), close: async () => undefined };
}

/**
 * Operator tooling that holds the database's own credentials, not an API identity: it verifies the audit
 * chain, and makes the first owner key of a deployment (while none exists: whoever holds these credentials
 * could write one anyway).
 */
export type DatabaseTooling = 'audit' | 'first-key';
const DATABASE_TOOLING: Record<DatabaseTooling, Identity> = {
  audit: { name: 'database-operator', roles: ['auditor'], keyId: 'database' },
  'first-key': { name: 'database-operator', roles: ['owner'], keyId: 'database' },
};

/** In-process as the first key's maker, or undefined once any key is active: then a key is needed like anywhere. */
async function firstKey(config: Config): Promise<Transport | undefined> {
  const { inProcess } = await import('./in-process');
  const transport = await inProcess(config, DATABASE_TOOLING['first-key']);
  const keys = (await transport.call('keys.list', {})) as { revokedAt: string | null; active: boolean }[];
  if (keys.every((k) => k.revokedAt !== null || !k.active)) return transport;
  await transport.close();
  return undefined;
}

/**
 * With a key, the API for everything. Without one: refused against
 * PostgreSQL (except database tooling, which holds the credentials anyway);
 * on the embedded database, the local owner, through the running Warden's
 * local ops endpoint or in-process when none runs.
 */
async function openTransport(
  config: Config,
  flagKey: string | undefined,
  tooling: DatabaseTooling | undefined,
): Promise<Transport> {
  const keyed = resolveKey(flagKey);
  if (keyed) return httpTransport(keyed.apiUrl, keyed.key);
  // Everything in-process (the database, Temporal's client, the operations) is loaded only on these paths:
  // a call through the API loads none of it.
  const { inProcess, LOCAL_OWNER, isDatabaseLocked, connectLocalOps } = await import('./in-process');
  if (config.databaseUrl !== undefined) {
    if (tooling === 'audit') return inProcess(config, DATABASE_TOOLING.audit);
    const first = tooling === 'first-key' ? await firstKey(config) : undefined;
    if (first) return first;
    throw new IdentityError(
      'an API key is required: with PostgreSQL the CLI acts only as an authenticated identity (WARDEN_API_KEY, --key or a profile)',
    );
  }
  process.stderr.write('warden: acting as the local owner (embedded database)\n');
  try {
    return await inProcess(config, LOCAL_OWNER);
  } catch (error) {
    if (!isDatabaseLocked(error)) throw error;
    const local = connectLocalOps(config.dataDir);
    if (!local) throw error;
    return httpTransport(local.url, local.token, `the running Warden (pid ${local.pid})`);
  }
}

/** A caller that settles its transport on the first call, so bad arguments are refused before anything connects. */
export function createCaller(config: Config, flagKey: string | undefined, tooling?: DatabaseTooling): Caller {
  let transport: Promise<Transport> | undefined;
  const open = () => (transport ??= openTransport(config, flagKey, tooling));
  return {
    call: async (name, input) => (await (await open()).call(name, input)) as never,
    close: async () => {
      if (transport) await (await transport.catch(() => undefined))?.close();
    },
  };
}
