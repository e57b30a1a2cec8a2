import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // PGlite needs ~300 MB per open database; two workers fit the 2-core machines CI runs on.
    maxWorkers: 2,
    // A worker runs one test file after another without restarting: the modules (Fastify, the
    // drivers, PGlite's WebAssembly) load once per worker, not once per file, which halves the
    // CPU the suite needs. Tests keep no state in modules (each gets a fresh database).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
