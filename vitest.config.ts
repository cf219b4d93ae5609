import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/deno/**', 'node_modules/**'],
    // GPU suites run in their own processes (Dawn on lavapipe dislikes sharing one).
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
