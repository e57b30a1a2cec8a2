import type { Database } from './database.js';
import { openPostgres } from './postgres/connect.js';

export interface DatabaseConfig {
  /** postgres://… selects a PostgreSQL server; otherwise embedded PGlite in dataDir. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
}

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.databaseUrl) return openPostgres({ url: config.databaseUrl });
  // PGlite (and its WebAssembly) only when it is the database.
  const { openPglite } = await import('./pglite/connect.js');
  return openPglite({ dataDir: config.dataDir });
}
