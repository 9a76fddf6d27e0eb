import type { Kysely } from 'kysely';
import type { Database } from '../../db/database';
import { peekRateLimit, sweepRateLimitWindows, takeRateLimit } from '../../db/rate-limits.repository';

export type RateLimitAnswer = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

/**
 * A fixed one-minute window per key: (API key, route) for requests, source
 * address for failed authentications. Kept in PostgreSQL, shared by every API
 * process on the database: a deployment that runs two allows each limit once,
 * not once per process, and a restart forgives nothing.
 */
export class RateLimiter {
  private lastSweep = 0;

  /**
   * @param scope keeps apart the windows of APIs that share a database but not their limits (tests
   *   that serve two APIs with different limits); a deployment's processes share the default.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly scope = '',
    private readonly windowSeconds = 60,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; says whether it may proceed and, if not, when to retry. */
  async take(key: string, limit: number): Promise<RateLimitAnswer> {
    await this.sweepNow();
    const taken = await takeRateLimit(this.db, this.keyOf(key), limit, this.windowSeconds);
    return taken.ok ? { ok: true, remaining: limit - taken.count } : taken;
  }

  /** Whether one more would be within the limit, counting nothing (e.g. before a failure is known). */
  async peek(key: string, limit: number): Promise<RateLimitAnswer> {
    const { count, retryAfterSeconds } = await peekRateLimit(this.db, this.keyOf(key), this.windowSeconds);
    return count >= limit ? { ok: false, retryAfterSeconds } : { ok: true, remaining: limit - count };
  }

  private keyOf(key: string): string {
    return this.scope === '' ? key : `${this.scope}/${key}`;
  }

  /** Old windows go once a window per process: any process's sweep serves all. */
  private async sweepNow(): Promise<void> {
    const now = this.now();
    if (now - this.lastSweep < this.windowSeconds * 1000) return;
    this.lastSweep = now;
    await sweepRateLimitWindows(this.db, this.windowSeconds);
  }
}
