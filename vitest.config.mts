import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Most files wait on the shared dev server and PostgreSQL rather than compute: on 2 cores vitest's
    // default (cores − 1) runs them one at a time. Each file has its own database, namespace or task queue.
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-runtime.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Temporal's native runtime holds handles that do not close promptly.
    teardownTimeout: 30_000,
  },
});
