import { describe, expect, it } from 'vitest';
import { COMMAND_MODULES } from '../../../src/operator/cli/main';

describe('the CLI command table', () => {
  it('names exactly the commands each module exports, so a lazily loaded command is never missing', async () => {
    const byLoader = new Map<() => Promise<Record<string, unknown>>, string[]>();
    for (const [name, load] of Object.entries(COMMAND_MODULES))
      byLoader.set(load, [...(byLoader.get(load) ?? []), name]);
    expect(byLoader.size).toBe(14);
    for (const [load, names] of byLoader) {
      const exported = Object.keys(await load());
      expect(names.sort()).toEqual(exported.sort());
      for (const name of names) expect(typeof (await load())[name]).toBe('function');
    }
  });
});
