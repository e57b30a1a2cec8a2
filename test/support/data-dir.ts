import { chmodSync, cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PGlite data directory with every migration applied, for a `stepgate serve` process whose
 * test is not about a first start: a copy of the one the global setup made (a few
 * milliseconds) instead of an initdb and the migrations (seconds of CPU per process). The
 * server still bootstraps its admin token, which the copy does not hold. Tests of a first
 * start (the README's, serve's bootstrap, migrate's) keep an empty directory.
 */
export function migratedDataDir(path: string): string {
  const template = process.env.STEPGATE_TEST_DATA_DIR_TEMPLATE;
  if (!template) throw new Error('STEPGATE_TEST_DATA_DIR_TEMPLATE is unset: the global setup (test/support/global-setup.ts) makes it');
  mkdirSync(path, { recursive: true });
  cpSync(join(template, 'pgdata'), join(path, 'pgdata'), { recursive: true });
  return path;
}

export type EmbeddedEngine = 'pglite' | 'postgres';

/**
 * A new empty directory open to others, for a first start: a suite run as root starts the
 * embedded PostgreSQL server as the `postgres` user, which must reach it.
 */
export function emptyDataDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * A new data directory for `engine` (STEPGATE_EMBEDDED): PGlite's a migrated copy; the
 * PostgreSQL server's empty (its first start makes the cluster).
 */
export function embeddedDataDir(engine: EmbeddedEngine, prefix: string): string {
  return engine === 'pglite' ? migratedDataDir(mkdtempSync(join(tmpdir(), prefix))) : emptyDataDir(prefix);
}
