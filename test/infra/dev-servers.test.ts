import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createWardenDevServer, tearDownDevServers } from '../support/processes';

/** Whether something listens on `address` (host:port). */
const listening = (address: string) =>
  new Promise<boolean>((resolve) => {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(':')),
      Number(address.slice(address.lastIndexOf(':') + 1)),
    ];
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

// A dev server is a process of its own: one a harness did not tear down ran on after it (a failed
// benchmark's exit). benchmarks/run.ts tears down every one still up as the benchmark exits.
describe("the harnesses' dev servers", () => {
  it('are torn down by tearDownDevServers, every one still up', async () => {
    const [kept, done] = await Promise.all([createWardenDevServer(), createWardenDevServer()]);
    expect(await listening(kept.address)).toBe(true);
    await done.teardown();
    await tearDownDevServers();
    expect(await listening(kept.address)).toBe(false);
    expect(await listening(done.address)).toBe(false);
  });
});
