import type { Migration } from 'kysely';
import * as controlPlane from './2026_11_24_0001_control_plane';

/** Every migration, by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_control_plane': controlPlane,
};
