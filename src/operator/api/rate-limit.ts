/**
 * A fixed one-minute window per key: (API key, route) for requests, source
 * address for failed authentications. Kept
 * in the API process's memory: limits protect the process, and a restart
 * forgiving a burst is acceptable.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; says whether it may proceed and, if not, when to retry. */
  take(key: string, limit: number): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const taken = this.peek(key, limit);
    if (taken.ok) this.windows.get(key)!.count += 1;
    return taken.ok ? { ok: true, remaining: taken.remaining - 1 } : taken;
  }

  /** Whether one more would be within the limit, counting nothing (e.g. before a failure is known). */
  peek(key: string, limit: number): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    let window = this.windows.get(key);
    if (window === undefined || now - window.start >= this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
      if (this.windows.size > 10_000) this.sweep(now);
    }
    if (window.count >= limit)
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000)) };
    return { ok: true, remaining: limit - window.count };
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= this.windowMs) this.windows.delete(key);
  }
}
