import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { launchBrowser, requireConsoleAndChromium, type Browser } from './browser.js';
import { adminQuery, TEST_DB_PREFIX } from './postgres-admin.js';
import { startServer, type ServerProcess } from './server-process.js';
import { withDatabase } from './global-setup.js';
import { testPostgresUrl } from './test-postgres.js';

export interface ConsoleServer {
  readonly server: ServerProcess;
  stop(): Promise<void>;
}

/**
 * The built server (what `npm start` runs) for the browser tests, on a fresh database of the
 * suites' PostgreSQL server (TEST_DATABASE_URL's, else the embedded one): it starts in a
 * second, where a first start on its own embedded database would make a cluster.
 */
export async function startConsoleServer(work: string, env: Record<string, string> = {}): Promise<ConsoleServer> {
  const url = testPostgresUrl();
  const name = `${TEST_DB_PREFIX}console_${randomBytes(4).toString('hex')}`;
  await adminQuery(url, `CREATE DATABASE ${name}`);
  const server = await startServer({ STEPGATE_DATA_DIR: join(work, '.stepgate'), DATABASE_URL: withDatabase(url, name), ...env }, { built: true, startTimeoutMs: 120_000 });
  return {
    server,
    async stop() {
      await server.stop();
      await adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export interface ConsoleSuite {
  /** The suite's own folder (its data directory, files to attest). */
  readonly work: string;
  readonly server: ServerProcess;
  /** One Chromium for the suite; every test's pages are closed after it. */
  readonly browser: Browser;
}

/**
 * Registers, in the calling `describe`, what every browser suite needs: a console server in a
 * folder of its own, `prepare` (tokens…) once it answers, one Chromium, a screenshot of a
 * failing test's pages, and everything removed at the end. A missing Chromium or build fails
 * every test with the fix, never skips them.
 */
export function useConsoleServer(prefix: string, env: Record<string, string> = {}, prepare?: (suite: ConsoleSuite) => Promise<void>): ConsoleSuite {
  const suite = {} as { work: string; server: ServerProcess; browser: Browser };
  let running: ConsoleServer | undefined;
  let setupError: unknown;
  beforeAll(async () => {
    try {
      requireConsoleAndChromium();
      suite.work = mkdtempSync(join(tmpdir(), prefix));
      running = await startConsoleServer(suite.work, env);
      suite.server = running.server;
      await prepare?.(suite);
      suite.browser = await launchBrowser(suite.server.baseUrl);
    } catch (err) {
      setupError = err;
    }
  }, 240_000);
  beforeEach(() => {
    if (setupError) throw setupError;
    suite.browser.problems.length = 0;
  });
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await suite.browser?.screenshotOnFailure(task.name);
    await suite.browser?.closePages();
  });
  afterAll(async () => {
    await suite.browser?.close();
    await running?.stop();
    if (suite.work) rmSync(suite.work, { recursive: true, force: true });
  });
  return suite;
}
