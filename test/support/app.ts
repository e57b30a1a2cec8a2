import type { Database } from '../../src/storage/database.js';
import type { LlmProvider } from '../../src/core/llm.js';
import { createEngineDeps } from '../../src/engine/create-deps.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { FaultPoints } from '../../src/engine/faults.js';
import { buildApp, type App } from '../../src/http/app.js';
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

export function testApp(database: Database, options: { bodyLimit?: number } & TestDepsOptions = {}): Promise<App> {
  return buildApp(testDeps(database, options), options.bodyLimit ? { bodyLimit: options.bodyLimit } : {});
}
