import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openPglite } from '../../src/storage/pglite/connect.js';
import { adminQuery, TEMPLATE_PREFIX } from './postgres-admin.js';
import { openPostgres } from '../../src/storage/postgres/connect.js';
import { transpileSourcesNow } from './transpiled-server.js';
import { startTestPostgres } from './test-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresTemplate: string;
  }
}

/**
 * Migrates once into a template per driver; every test then gets a fresh clone (PGlite:
 * loadDataDir of a dump, ~0.4 s; PostgreSQL: CREATE DATABASE … TEMPLATE). PostgreSQL is the
 * server of TEST_DATABASE_URL, else the embedded server stepgate ships, started here for the
 * whole run (test/support/test-postgres.ts).
 */
export default async function setup(project: TestProject) {
  const dir = join(process.cwd(), '.tmp');
  mkdirSync(dir, { recursive: true });
  // Started first: the server starts while PGlite's templates are made.
  const starting = process.env.TEST_DATABASE_URL ? undefined : startTestPostgres();
  starting?.catch(() => {}); // awaited below
  // Every `stepgate` process the tests start runs these (test/support/cli.ts): tsx would
  // compile the sources again in each of hundreds of processes.
  const sources = transpileSourcesNow();
  process.env.STEPGATE_TEST_SOURCES = sources.dir;
  const dumpPath = join(dir, `pglite-template-${process.pid}.tar`);
  // A migrated PGlite data directory that server processes start from (test/support/data-dir.ts).
  const dataDirTemplate = join(dir, `data-dir-template-${process.pid}`);
  rmSync(dataDirTemplate, { recursive: true, force: true });
  const onDisk = await openPglite({ dataDir: dataDirTemplate });
  await onDisk.migrate();
  // The in-memory template is a dump of the same cluster: one initdb, not two.
  const dump = await onDisk.client.dumpDataDir('none');
  writeFileSync(dumpPath, Buffer.from(await dump.arrayBuffer()));
  await onDisk.close();
  process.env.STEPGATE_TEST_DATA_DIR_TEMPLATE = dataDirTemplate;
  project.provide('pgliteTemplate', dumpPath);

  const embedded = await starting;
  const url = process.env.TEST_DATABASE_URL || embedded!.url; // empty means unset, as in `TEST_DATABASE_URL= npm test`
  const template = `${TEMPLATE_PREFIX}${process.pid}`;
  try {
    await adminQuery(url, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await adminQuery(url, `CREATE DATABASE ${template}`);
    const pg = await openPostgres({ url: withDatabase(url, template), poolSize: 1 });
    await pg.migrate();
    await pg.close();
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  project.provide('postgresUrl', url);
  project.provide('postgresTemplate', template);

  return async () => {
    sources.remove();
    rmSync(dataDirTemplate, { recursive: true, force: true });
    rmSync(dumpPath, { force: true });
    await adminQuery(url, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await embedded?.stop();
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
