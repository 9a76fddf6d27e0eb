// How a benchmark's file runs: exit 0 once done, or print the error and exit 1. Either way every dev
// server it started is torn down first: a server is a process of its own and outlived a failed run.
import { tearDownDevServers } from '../test/support/processes';

export function runBenchmark(main: () => Promise<unknown>): void {
  main().then(
    async () => {
      await tearDownDevServers();
      process.exit(0);
    },
    async (error: unknown) => {
      console.error(error);
      await tearDownDevServers();
      process.exit(1);
    },
  );
}
