// The CLI's in-process transport: operations run here on the database, as an identity. Loaded only when a
// command runs without an API key (see transport.ts), so a call through the API never loads it.
import { Registry } from 'prom-client';
import { WardenClient } from '../../client';
import type { Config } from '../../config/index';
import { DatabaseLockedError, openDatabase } from '../../db/connect';
import { migrateToLatest } from '../../db/migrate';
import type { Identity } from '../../domain/identity/roles';
import { withLocalApprovalKeys } from '../../security/approval-keys';
import { lazyClient } from '../../temporal/connection';
import { ApiError } from '../api/http';
import { findOperation, invokeOperation, LOCAL_OWNER } from '../operations';
import { OperationFailed } from './transport';

export { connectLocalOps } from './local-ops';
export { LOCAL_OWNER };

/** How a command reaches Warden: an operation by name and its input, answered or refused. */
export interface Transport {
  call(name: string, input: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export const isDatabaseLocked = (error: unknown): boolean => error instanceof DatabaseLockedError;

/** Runs operations in this process on the database, as `identity`; Temporal is reached only if an operation needs it. */
export async function inProcess(given: Config, identity: Identity): Promise<Transport> {
  // The local owner signs what it approves with the key pair `npm start` keeps in the data folder.
  const config = identity === LOCAL_OWNER ? withLocalApprovalKeys(given).config : given;
  const database = await openDatabase(config);
  // The embedded database is this user's own, kept up to date by `npm start`: brought up to date here
  // too, so a command on a fresh data folder answers instead of failing on a table not made yet.
  // PostgreSQL is migrated by its operator (`warden migrate`); nothing runs in-process on it but that.
  if (config.databaseUrl === undefined) {
    try {
      await migrateToLatest(database.db);
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  const temporal = await lazyClient(config.temporal);
  const deps = {
    db: database.db,
    config,
    temporal,
    warden: new WardenClient(temporal, config.temporal.taskQueue),
    // The API's metrics are not served from here.
    registry: new Registry(),
  };
  return {
    async call(name, input) {
      const op = findOperation(name);
      if (!op) throw new OperationFailed(404, 'not_found', `no operation ${name}`);
      try {
        return await invokeOperation(op, deps, identity, input);
      } catch (error) {
        if (error instanceof ApiError) throw new OperationFailed(error.status, error.code, error.message, error.extra);
        throw error;
      }
    },
    async close() {
      await temporal.connection.close();
      await database.close();
    },
  };
}
