import { describe, expect, it } from 'vitest';
import { createWardenDevServer, listening, tearDownDevServers } from '../support/processes';

/** Whether something listens on `address` (host:port). */
const listeningOn = (address: string) =>
  listening(address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1)));

// A dev server is a process of its own: one a harness did not tear down ran on after it (a failed
// benchmark's exit). benchmarks/run.ts tears down every one still up as the benchmark exits.
describe("the harnesses' dev servers", () => {
  it('are torn down by tearDownDevServers, every one still up', async () => {
    const [kept, done] = await Promise.all([createWardenDevServer(), createWardenDevServer()]);
    expect(await listeningOn(kept.address)).toBe(true);
    await done.teardown();
    await tearDownDevServers();
    expect(await listeningOn(kept.address)).toBe(false);
    expect(await listeningOn(done.address)).toBe(false);
  });
});
