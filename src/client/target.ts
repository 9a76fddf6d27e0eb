import type { Client } from '@temporalio/client';

/** Where the client's workflows run: a Temporal client and the task queue Warden's workers poll. */
export interface Target {
  readonly client: Client;
  readonly taskQueue: string;
}
