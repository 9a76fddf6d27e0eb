import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database';

/** What a group commit writes: a group of requests in one transaction, one result per request, in order. */
export interface GroupWriter<Request, Result> {
  /** Most groups of one process in flight at once. */
  atOnce: number;
  /** Most requests in one group. */
  limit: number;
  /** `again`: the group goes again, after a fault `writeAgainOn` named. */
  write(trx: Transaction<Database>, requests: Request[], again: boolean): Promise<Result[]>;
  /** A fault after which the whole group is written again (with `again`) instead of split by caller. */
  writeAgainOn?(error: unknown): boolean;
}

/**
 * Writes requested at the same moment go together: each group is one transaction and one commit, where
 * each request took its own (and under load most waited for the same rows). A caller learns its result
 * only once the group is committed, and one request's fault never fails the others': a group that fails
 * before its commit is written again caller by caller, each failing (and retrying) as it would alone. A
 * failed commit may have stored the group, so then each caller gets the fault, as it would have alone.
 */
export class GroupCommit<Request, Result> {
  private readonly waiting: { request: Request; settle: (result: Promise<Result>) => void }[] = [];
  private writing = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly writer: GroupWriter<Request, Result>,
  ) {}

  submit(request: Request): Promise<Result> {
    return new Promise((resolve) => {
      this.waiting.push({ request, settle: resolve });
      this.drain();
    });
  }

  private drain(): void {
    while (this.writing < this.writer.atOnce && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.writer.limit);
      this.writing += 1;
      void this.write(group).finally(() => {
        this.writing -= 1;
        this.drain();
      });
    }
  }

  private async write(group: typeof this.waiting, tries = 0): Promise<void> {
    const again = tries > 0;
    let committing = false;
    try {
      const results = await this.db.transaction().execute(async (trx) => {
        const written = await this.writer.write(
          trx,
          group.map((g) => g.request),
          again,
        );
        committing = true;
        return written;
      });
      group.forEach((g, i) => g.settle(Promise.resolve(results[i]!)));
    } catch (error) {
      const writeAgain = tries < WRITE_AGAIN_LIMIT && this.writer.writeAgainOn?.(error) === true;
      if (committing || (group.length === 1 && !writeAgain))
        for (const g of group) g.settle(Promise.reject(error as Error));
      else if (writeAgain) await this.write(group, tries + 1);
      else await Promise.all(group.map((g) => this.write([g])));
    }
  }
}

/**
 * How often a group goes again after a fault `writeAgainOn` names before it is split by caller: a try that
 * met another transaction's row waited for it to commit, so each try finds more than the one before.
 */
const WRITE_AGAIN_LIMIT = 4;

/** One group commit per database (a process's pool), made when first asked for. */
export function groupCommitOf<Request, Result>(
  writer: GroupWriter<Request, Result>,
): (db: Kysely<Database>) => GroupCommit<Request, Result> {
  const commits = new WeakMap<Kysely<Database>, GroupCommit<Request, Result>>();
  return (db) => {
    let commit = commits.get(db);
    if (commit === undefined) commits.set(db, (commit = new GroupCommit(db, writer)));
    return commit;
  };
}

/** PostgreSQL's unique_violation (23505), as node-postgres and PGlite both report it. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '23505';
}
