import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_PARALLEL_STEPS, type InputLimits } from '../core/limits.js';
import type { LlmProvider } from '../core/llm.js';
import type { Metrics } from '../core/metrics.js';
import { noRootsVerifier, type ArtifactVerifier } from '../core/provenance/verification.js';
import type { Database, Db, PreparedRunner } from '../storage/database.js';
import { createRunRetention } from '../storage/retention.js';
import { createRunReads } from '../storage/runs.js';
import { createRunStore } from '../storage/transitions/index.js';
import type { EngineDeps } from './deps.js';
import { announcingStore, createEventHub } from './events.js';
import type { FaultPoints } from './faults.js';
import { meteredStore } from './metered-store.js';
import { createPlanCache } from './plan.js';
import { createProviderSlots } from './provider-slots.js';
import { createTokenCache } from './token-cache.js';

/** Fills in what every process computes the same way: its executor id and a plan cache. */
export function createEngineDeps(options: {
  db: Db;
  prepared?: PreparedRunner | undefined;
  providers: ReadonlyMap<string, LlmProvider>;
  defaultModel: string;
  leaseMs: number;
  /** STEPGATE_MAX_PARALLEL_STEPS (default DEFAULT_MAX_PARALLEL_STEPS). */
  maxParallelSteps?: number | undefined;
  /** STEPGATE_MAX_ITEMS (default DEFAULT_MAX_ITEMS). */
  maxItems?: number | undefined;
  faults?: FaultPoints | undefined;
  limits?: InputLimits;
  artifactSchemes?: readonly string[];
  metrics?: Metrics;
  artifactVerifier?: ArtifactVerifier | undefined;
  /** The driver's LISTEN: token revocations, and run events committed by other processes sharing the database. */
  listen?: Database['listen'] | undefined;
  /** Whether other processes may write to the database (Database.shared; default true). */
  shared?: boolean | undefined;
}): EngineDeps {
  const store = createRunStore(options.db, options.prepared);
  const events = createEventHub(options.db, { listen: options.listen, shared: options.shared ?? true, prepared: options.prepared });
  return {
    db: options.db,
    store: announcingStore(options.metrics ? meteredStore(store, options.metrics) : store, events),
    reads: createRunReads(options.db, options.prepared),
    retention: createRunRetention(options.db),
    prepared: options.prepared,
    providers: options.providers,
    slots: createProviderSlots(options.providers),
    executing: new Map(),
    maxParallelSteps: options.maxParallelSteps ?? DEFAULT_MAX_PARALLEL_STEPS,
    maxItems: options.maxItems ?? DEFAULT_MAX_ITEMS,
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
    events,
    tokens: createTokenCache(options.listen),
  };
}
