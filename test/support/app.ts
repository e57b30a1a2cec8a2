import type { Database } from '../../src/storage/database.js';
import { buildApp, type App } from '../../src/http/app.js';
import { PROVIDER_NAMES } from '../../src/providers/llm/names.js';

export function testApp(database: Database, options: { bodyLimit?: number } = {}): Promise<App> {
  return buildApp({ db: database.db, providerNames: PROVIDER_NAMES }, options);
}
