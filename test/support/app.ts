import type { Database } from '../../src/storage/database.js';
import type { LlmProvider } from '../../src/core/llm.js';
import { createEngineDeps } from '../../src/engine/create-deps.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { FaultPoints } from '../../src/engine/faults.js';
import type { InputLimits } from '../../src/core/limits.js';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { buildApp, type App } from '../../src/http/app.js';
import { authOptions, type AuthOptions } from '../../src/http/auth/options.js';
import { createPrometheusMetrics, type PrometheusMetrics } from '../../src/http/metrics.js';
import { meteredProviders } from '../../src/providers/llm/metered.js';
import { createProviders } from '../../src/providers/llm/registry.js';
import type { ProviderSettings } from '../../src/core/providers-file.js';

export interface TestDepsOptions {
  /** Base URL of an OpenAI-compatible server (a local test server); default: nothing listens there. */
  openaiBaseUrl?: string;
  openaiTimeoutMs?: number;
  /** Base URL of a Messages API server for the built-in `anthropic` provider; default: nothing listens there. */
  anthropicBaseUrl?: string;
  defaultModel?: string;
  leaseMs?: number;
  maxParallelSteps?: number;
  maxItems?: number;
  faults?: FaultPoints;
  providers?: ReadonlyMap<string, LlmProvider>;
  limits?: InputLimits;
  artifactSchemes?: readonly string[];
  /** When given, providers are metered into it and the engine reports to it. */
  metrics?: PrometheusMetrics;
}

export function testDeps(database: Database, options: TestDepsOptions = {}): EngineDeps {
  const providers = options.providers ?? createProviders(builtInTestProviders(options), { backoffMs: 10 });
  return createEngineDeps({
    db: database.db,
    prepared: database.prepared,
    providers: options.metrics ? meteredProviders(providers, options.metrics) : providers,
    defaultModel: options.defaultModel ?? 'offline:echo',
    listen: database.listen,
    shared: database.shared,
    leaseMs: options.leaseMs ?? 60_000,
    maxParallelSteps: options.maxParallelSteps,
    maxItems: options.maxItems,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.artifactSchemes ? { artifactSchemes: options.artifactSchemes } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}

/** The built-in providers, pointed at local test servers (or at a port where nothing listens). */
export function builtInTestProviders(options: Pick<TestDepsOptions, 'openaiBaseUrl' | 'openaiTimeoutMs' | 'anthropicBaseUrl'> = {}): ProviderSettings[] {
  const common = { maxConcurrency: 16, timeoutMs: options.openaiTimeoutMs ?? 5_000, maxTries: 3, definedAt: 'built in' };
  return [
    { ...common, name: 'offline', kind: 'offline', baseUrl: null, apiKeyEnv: null, apiKey: undefined },
    { ...common, name: 'openai', kind: 'openai', baseUrl: options.openaiBaseUrl ?? 'http://127.0.0.1:9/v1', apiKeyEnv: 'OPENAI_API_KEY', apiKey: 'test-key' },
    { ...common, name: 'anthropic', kind: 'anthropic', baseUrl: options.anthropicBaseUrl ?? 'http://127.0.0.1:9', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: 'test-key' },
  ];
}

/**
 * Authentication off (STEPGATE_AUTH=off on loopback): the suites about runs, manifests and
 * attestations test the engine through HTTP; the access suites (test/access.*) pass `auth`.
 */
export const AUTH_OFF: AuthOptions = authOptions({ mode: 'off' });

/** An app over a test database; its metrics registry is metered into by the providers too. */
export function testApp(
  database: Database,
  options: { bodyLimit?: number; loggerInstance?: FastifyBaseLogger; auth?: AuthOptions; consoleDir?: string } & TestDepsOptions = {},
): Promise<App> {
  const metrics = options.metrics ?? createPrometheusMetrics();
  return buildApp(testDeps(database, { ...options, metrics }), {
    metrics,
    auth: options.auth ?? AUTH_OFF,
    ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}),
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    // Errors only, to stderr: a 500 that a test did not expect says why in the test's output.
    loggerInstance: options.loggerInstance ?? (pino({ level: 'error' }, pino.destination(2)) as FastifyBaseLogger),
  });
}
