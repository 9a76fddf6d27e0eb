import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { type Config, DEFAULT_TEMPORAL_ADDRESS } from '../config/index';

async function connectionOptions(config: Config['temporal']) {
  const tls = config.tls
    ? { clientCertPair: { crt: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) } }
    : config.apiKey
      ? true // Temporal Cloud API keys travel over TLS.
      : undefined;
  return {
    address: config.address ?? DEFAULT_TEMPORAL_ADDRESS,
    ...(tls !== undefined ? { tls } : {}),
    ...(config.apiKey !== undefined ? { apiKey: config.apiKey } : {}),
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

/** A client that connects on its first call: for callers (the CLI in-process) that may never need Temporal. */
export async function lazyClient(config: Config['temporal']): Promise<Client> {
  return new Client({ connection: Connection.lazy(await connectionOptions(config)), namespace: config.namespace });
}
