import { patched } from '@temporalio/workflow';

/**
 * A workflow's patches, decided once. Each `patched()` costs a new run a marker and the
 * TemporalChangeVersion upsert the SDK adds to every patch (a visibility write on the
 * server), so a run started since the workflow's generation patch takes every path it
 * names on that one marker. A history from before it asks each patch where it always did,
 * so it replays as it ran.
 */
export class Patches {
  private constructor(private readonly current: boolean) {}

  /** Asks the generation patch: call it first thing, before any other patch or activity. */
  static since(generation: string): Patches {
    return new Patches(patched(generation));
  }

  /** Whether the run takes the patched path: always since the generation, else as `patched(id)` answers. */
  has(id: string): boolean {
    return this.current || patched(id);
  }
}
