import type { Database } from '../../src/storage/database.js';
import type { LlmProvider } from '../../src/core/llm.js';
import { createEngineDeps } from '../../src/engine/create-deps.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { FaultPoints } from '../../src/engine/faults.js';
import { buildApp, type App } from '../../src/http/app.js';
import { authOptions, type AuthOptions } from '../../src/http/auth/options.js';
import { createProviders } from '../../src/providers/llm/registry.js';

export interface TestDepsOptions {
  /** Base URL of an OpenAI-compatible server (a local test server); default: nothing listens there. */
  openaiBaseUrl?: string;
  openaiTimeoutMs?: number;
  defaultModel?: string;
  leaseMs?: number;
  faults?: FaultPoints;
  providers?: ReadonlyMap<string, LlmProvider>;
}

export function testDeps(database: Database, options: TestDepsOptions = {}): EngineDeps {
  return createEngineDeps({
    db: database.db,
    prepared: database.prepared,
    providers:
      options.providers ??
      createProviders({
        openai: {
          baseUrl: options.openaiBaseUrl ?? 'http://127.0.0.1:9/v1',
          apiKey: 'test-key',
          timeoutMs: options.openaiTimeoutMs ?? 5_000,
          maxTries: 3,
          backoffMs: 10,
        },
      }),
    defaultModel: options.defaultModel ?? 'offline:echo',
    leaseMs: options.leaseMs ?? 60_000,
    ...(options.faults ? { faults: options.faults } : {}),
  });
}

/**
 * Authentication off (STEPGATE_AUTH=off on loopback): the suites about runs, manifests and
 * attestations test the engine through HTTP; the access suites (test/access.*) pass `auth`.
 */
export const AUTH_OFF: AuthOptions = authOptions({ mode: 'off' });

export function testApp(database: Database, options: { bodyLimit?: number; auth?: AuthOptions } & TestDepsOptions = {}): Promise<App> {
  return buildApp(testDeps(database, options), { ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}), auth: options.auth ?? AUTH_OFF });
}
