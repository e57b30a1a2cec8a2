import type { Config } from '../config.js';
import { ConfigInvalidError } from '../core/errors.js';
import { splitModel } from '../core/llm.js';
import { buildApp, type App } from '../http/app.js';
import { CONSOLE_DIR } from '../http/console.js';
import { createEngineDeps } from '../engine/create-deps.js';
import { createProviders } from '../providers/llm/registry.js';
import type { Database } from '../storage/database.js';
import { openDatabase } from '../storage/open.js';

/** `stepgate serve` and `stepgate migrate`: the two commands that open the database themselves. */

export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded PostgreSQL (PGlite) in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

export async function migrateCommand(config: Config, log: (line: string) => void): Promise<void> {
  const database = await openDatabase(config);
  try {
    await database.migrate();
    log(`Migrations applied to ${describeDatabase(config)}; the schema is current.`);
  } finally {
    await database.close();
  }
}

export async function serveCommand(config: Config, log: (line: string) => void): Promise<void> {
  const providers = createProviders({
    openai: { baseUrl: config.openaiBaseUrl, apiKey: config.openaiApiKey, timeoutMs: config.llmTimeoutMs, maxTries: config.llmMaxTries },
  });
  const defaultProvider = splitModel(config.defaultModel).provider;
  if (!providers.has(defaultProvider)) {
    throw new ConfigInvalidError(
      `STEPGATE_DEFAULT_MODEL names the unknown provider "${defaultProvider}"; use one of ${[...providers.keys()].join(', ')} (e.g. offline:echo or openai:gpt-4o-mini).`,
    );
  }
  const database: Database = await openDatabase(config);
  let app: App | undefined;
  let closing: Promise<void> | undefined;
  // Ctrl+C or SIGTERM, at any point: stop taking requests, let those under way finish, close
  // the database (PGlite: release the data directory) and exit.
  const shutdown = (signal: string) => {
    closing ??= (async () => {
      log(`${signal} received: closing stepgate.`);
      await app?.close().catch(() => {});
      await database.close();
      process.exit(0);
    })();
  };
  process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
  try {
    await database.migrate();
    const deps = createEngineDeps({ db: database.db, prepared: config.preparedStatements ? database.prepared : undefined, providers, defaultModel: config.defaultModel, leaseMs: config.runLeaseMs });
    app = await buildApp(deps, { bodyLimit: config.bodyLimit, logger: { level: config.logLevel }, consoleDir: CONSOLE_DIR });
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app?.close().catch(() => {});
    await database.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log(`stepgate is serving http://${config.host}:${port} on ${describeDatabase(config)} (the operator console is at /). Press Ctrl+C to stop.`);
}
