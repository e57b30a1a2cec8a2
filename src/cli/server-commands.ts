import type { Config } from '../config.js';
import { ConfigInvalidError } from '../core/errors.js';
import { splitModel } from '../core/llm.js';
import type { Logger } from 'pino';
import { buildApp, type App } from '../http/app.js';
import { createPrometheusMetrics } from '../http/metrics.js';
import { meteredProviders } from '../providers/llm/metered.js';
import { CONSOLE_DIR } from '../http/console.js';
import { createEngineDeps } from '../engine/create-deps.js';
import { faultsFromEnv } from '../engine/faults.js';
import { bootstrapAdminToken } from '../engine/tokens.js';
import { writeAdminToken } from './admin-token.js';
import { activeSigningKey } from '../engine/keys.js';
import { createFileRootVerifier } from '../providers/artifacts/file-roots.js';
import { createProviders } from '../providers/llm/registry.js';
import { openDatabase } from '../storage/open.js';
import { serverLogger } from './server-logger.js';

/** `stepgate serve` and `stepgate migrate`: the two commands that open the database themselves. */

export async function migrateCommand(config: Config, log: (line: string) => void): Promise<void> {
  const database = await openDatabase(config);
  if (database.notice) log(database.notice);
  try {
    const applied = await database.migrate();
    log(
      applied.length === 0
        ? `Nothing to apply: the schema of ${database.description} is current.`
        : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${database.description}: ${applied.join(', ')}. The schema is current.`,
    );
  } finally {
    await database.close();
  }
}

export async function serveCommand(config: Config): Promise<void> {
  const logger = serverLogger({ level: config.logLevel, format: config.logFormat });
  const metrics = createPrometheusMetrics({ processMetrics: true });
  const providers = meteredProviders(createProviders(config.providers), metrics);
  const defaultProvider = splitModel(config.defaultModel).provider;
  if (!providers.has(defaultProvider)) {
    throw new ConfigInvalidError(
      `STEPGATE_DEFAULT_MODEL names the unknown provider "${defaultProvider}"; use one of ${[...providers.keys()].join(', ')} (e.g. offline:echo or openai:gpt-4o-mini).`,
    );
  }
  for (const provider of config.providers) {
    // A file entry that names a key variable nobody set: said once, by name (never a value).
    if (provider.definedAt !== 'built in' && provider.apiKeyEnv !== null && provider.apiKey === undefined) {
      logger.warn({ provider: provider.name, api_key_env: provider.apiKeyEnv }, `provider "${provider.name}" (${provider.definedAt}) reads its key from ${provider.apiKeyEnv}, which is not set: its requests go without a key`);
    }
  }
  const database = await openDatabase(config);
  if (database.notice) logger.warn(database.notice);
  let app: App | undefined;
  let closing: Promise<void> | undefined;
  // Ctrl+C or SIGTERM, at any point: stop taking requests, let those under way finish for up
  // to STEPGATE_SHUTDOWN_TIMEOUT_MS, close the database (embedded: stop it, release the data
  // directory) and exit. A run cut off stays `running` with its lease; once the lease expires
  // it is stalled, and a resume (by any process) recovers it.
  const shutdown = (signal: string, failed = false) => {
    closing ??= (async () => {
      const timeoutMs = config.shutdownTimeoutMs;
      logger.info({ signal, timeout_ms: timeoutMs }, 'stopping: no new requests; waiting for the requests under way');
      const drained = await within(timeoutMs, app?.close() ?? Promise.resolve());
      if (!drained) {
        logger.warn({ timeout_ms: timeoutMs }, 'requests still under way after STEPGATE_SHUTDOWN_TIMEOUT_MS: exiting anyway; a run they were advancing is recovered by a resume once its lease expires');
      }
      await within(5_000, database.close());
      logger.info({ drained }, 'stopped');
      process.exit(drained && !failed ? 0 : 1);
    })();
  };
  process.once('SIGINT', () => shutdown('SIGINT')).once('SIGTERM', () => shutdown('SIGTERM'));
  // The embedded server gone under a running stepgate (killed, out of memory): every request
  // would fail, so stop, and say so; the next start recovers the data from PostgreSQL's WAL.
  void database.lost?.then((why) => {
    logger.fatal(`The embedded PostgreSQL server stopped under stepgate: ${why}. stepgate stops too; start it again (PostgreSQL recovers its data at start).`);
    shutdown('embedded database lost', true);
  });
  try {
    const applied = await database.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}: ${applied.join(', ')}.`);
    const deps = createEngineDeps({
      db: database.db,
      prepared: config.preparedStatements ? database.prepared : undefined,
      providers,
      defaultModel: config.defaultModel,
      leaseMs: config.runLeaseMs,
      maxParallelSteps: config.maxParallelSteps,
      maxItems: config.maxItems,
      limits: config.limits,
      artifactSchemes: config.artifactSchemes,
      metrics,
      faults: faultsFromEnv(process.env),
      artifactVerifier: config.artifactRoots.length > 0 ? createFileRootVerifier(config.artifactRoots) : undefined,
      listen: database.listen,
      shared: database.shared,
    });
    // The provenance signing key exists from the first start on (GET /api/keys publishes it).
    await activeSigningKey(deps);
    if (config.auth.mode === 'on') {
      // Secure by default, still two commands: the first start makes an admin token the CLI finds.
      const created = await bootstrapAdminToken(deps);
      if (created) announce(logger, config).info(`Created the admin token ${created.name} in ${writeAdminToken(config.dataDir, created.token)} (readable by you only); the CLI uses it from there.`);
    } else {
      logger.warn('Authentication is off (STEPGATE_AUTH=off): no tokens are checked and attestations record the attested_by their body gives, marked as not verified.');
    }
    if ((config.host === '0.0.0.0' || config.host === '::') && config.auth.allowedHosts.length === 0) {
      logger.warn(`HOST=${config.host}: only loopback names are answered until STEPGATE_ALLOWED_HOSTS lists the names clients use to reach this server`);
    }
    app = await buildApp(deps, { bodyLimit: config.bodyLimit, loggerInstance: logger, metrics, auth: config.auth, consoleDir: CONSOLE_DIR });
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app?.close().catch(() => {});
    await database.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  // The address and the admin token's path are what a person starting the server needs: said at
  // info level even when LOG_LEVEL hides the rest (but not with LOG_LEVEL=silent).
  announce(logger, config).info(`stepgate is serving ${url} on ${database.description} (the operator console is at /). Press Ctrl+C to stop.`);
}

function announce(logger: Logger, config: Config): Logger {
  return config.logLevel === 'silent' ? logger : logger.child({}, { level: 'info' });
}

/** Whether `work` settled within `ms` (it goes on in the background otherwise). */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
