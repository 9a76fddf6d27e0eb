/** Whether a compiled output of scripts/build.mjs (relative to the root) is newer than every source it was built from. */
export function isFresh(output: string): boolean;
export const root: string;
