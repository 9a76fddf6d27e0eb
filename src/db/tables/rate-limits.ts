/** One fixed window of one rate-limit key: how many requests it has let through. */
export interface RateLimitWindowTable {
  key: string;
  window_start: Date;
  count: number;
}
