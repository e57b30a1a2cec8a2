import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { InputLimits } from '../core/limits.js';
import type { LlmProvider } from '../core/llm.js';
import type { Metrics } from '../core/metrics.js';
import { noRootsVerifier, type ArtifactVerifier } from '../core/provenance/verification.js';
import type { Database, Db, PreparedRunner } from '../storage/database.js';
import { createRunRetention } from '../storage/retention.js';
import { createRunReads } from '../storage/runs.js';
import { createRunStore } from '../storage/transitions/index.js';
import type { EngineDeps } from './deps.js';
import { createEventHub } from './events.js';
import type { FaultPoints } from './faults.js';
import { meteredStore } from './metered-store.js';
import { createPlanCache } from './plan.js';
import { createTokenCache } from './token-cache.js';

/** Fills in what every process computes the same way: its executor id and a plan cache. */
export function createEngineDeps(options: {
  db: Db;
  prepared?: PreparedRunner | undefined;
  providers: ReadonlyMap<string, LlmProvider>;
  defaultModel: string;
  leaseMs: number;
  faults?: FaultPoints | undefined;
  limits?: InputLimits;
  artifactSchemes?: readonly string[];
  metrics?: Metrics;
  artifactVerifier?: ArtifactVerifier | undefined;
  /** The driver's LISTEN; without it events are still recorded, and read back, but none arrives live. */
  listen?: Database['listen'] | undefined;
}): EngineDeps {
  return {
    db: options.db,
    store: options.metrics ? meteredStore(createRunStore(options.db, options.prepared), options.metrics) : createRunStore(options.db, options.prepared),
    reads: createRunReads(options.db, options.prepared),
    retention: createRunRetention(options.db),
    prepared: options.prepared,
    providers: options.providers,
    providerNames: [...options.providers.keys()],
    defaultModel: options.defaultModel,
    leaseMs: options.leaseMs,
    executorId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    plans: createPlanCache(),
    faults: options.faults,
    limits: options.limits,
    artifactSchemes: options.artifactSchemes,
    metrics: options.metrics,
    artifactVerifier: options.artifactVerifier ?? noRootsVerifier,
    events: createEventHub(options.db, options.listen ?? (async () => async () => {})),
    tokens: createTokenCache(options.listen),
  };
}
