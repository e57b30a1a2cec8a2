import type { Database } from './database.js';
import { openPglite } from './pglite/connect.js';
import { openPostgres } from './postgres/connect.js';

export interface DatabaseConfig {
  /** postgres://… selects a PostgreSQL server; otherwise embedded PGlite in dataDir. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
}

export function openDatabase(config: DatabaseConfig): Promise<Database> {
  return config.databaseUrl ? openPostgres({ url: config.databaseUrl }) : openPglite({ dataDir: config.dataDir });
}
