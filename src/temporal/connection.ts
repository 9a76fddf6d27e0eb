import { readFile } from 'node:fs/promises';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { type Config, DEFAULT_TEMPORAL_ADDRESS } from '../config/index';

/** The standard profile's TLS (server CA, SNI, client pair), with Warden's older cert/key pair in it when given. */
async function connectionOptions(config: Config['temporal']) {
  const standard = config.standard.tls;
  const tls = config.tls
    ? {
        ...(typeof standard === 'object' ? standard : {}),
        clientCertPair: { crt: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) },
      }
    : (standard ?? (config.apiKey ? true : undefined)); // Temporal Cloud API keys travel over TLS.
  return {
    address: config.address ?? DEFAULT_TEMPORAL_ADDRESS,
    ...(tls !== undefined ? { tls } : {}),
    ...(config.apiKey !== undefined ? { apiKey: config.apiKey } : {}),
    ...(config.standard.metadata ? { metadata: config.standard.metadata } : {}),
  };
}

export async function connectClient(config: Config['temporal']): Promise<Client> {
  const connection = await Connection.connect(await connectionOptions(config));
  return new Client({ connection, namespace: config.namespace });
}

export async function connectWorkerConnection(config: Config['temporal']): Promise<NativeConnection> {
  // Loaded only here: the worker's native core is not what a client (the CLI, the API) needs.
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect(await connectionOptions(config));
}

/**
 * The CLI's calls give up on a Temporal that does not answer after this many tries (about half a
 * second of backoff), where the client's default ten took 21 s to say so: a command before `npm start`
 * says at once that no server is there, and an operator asks again.
 */
const CLI_ATTEMPTS = 4;

/** A client that connects on its first call: for callers (the CLI in-process) that may never need Temporal. */
export async function lazyClient(config: Config['temporal']): Promise<Client> {
  const connection = Connection.lazy({
    ...(await connectionOptions(config)),
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: CLI_ATTEMPTS }))],
  });
  return new Client({ connection, namespace: config.namespace });
}
