import { patched } from '@temporalio/workflow';

/** A generation patch and the patches it stands for: every one asked when it was introduced. */
export interface Generation {
  id: string;
  covers: readonly string[];
}

/**
 * A workflow's patches, decided once. Each `patched()` costs a new run a marker and the
 * TemporalChangeVersion upsert the SDK adds to every patch (a visibility write on the
 * server), so a run started since a generation patch takes every path it covers on that
 * one marker. A history from before it asks each patch where it always did, so it replays
 * as it ran. A later patch goes in a new generation (listed first) that covers it too:
 * runs of the older generation then ask it with `patched()`, as any running workflow would.
 */
export class Patches {
  private constructor(private readonly covered: ReadonlySet<string>) {}

  /** Asks the generations, newest first, until one is in the history: call it before any other patch or activity. */
  static since(generations: readonly Generation[]): Patches {
    for (const generation of generations) if (patched(generation.id)) return new Patches(new Set(generation.covers));
    return new Patches(new Set());
  }

  /**
   * Whether the run's generation covers `id`, never asking `patched()`: for a path only runs started
   * since that generation take (a patch first asked late, after a local activity, can read absent on replay).
   */
  covers(id: string): boolean {
    return this.covered.has(id);
  }

  /** Whether the run takes the patched path: covered by its generation, else as `patched(id)` answers. */
  has(id: string): boolean {
    return this.covered.has(id) || patched(id);
  }
}
