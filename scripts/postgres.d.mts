/** A throwaway PostgreSQL cluster (see postgres.mjs). */
export interface ThrowawayPostgres {
  url: string;
  pause(): void;
  crash(): void;
  resume(): void;
  stop(): void;
}
export function startPostgres(): Promise<ThrowawayPostgres>;
