import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LlmProvider } from '../core/llm.js';
import { noRootsVerifier, type ArtifactVerifier } from '../core/provenance/verification.js';
import type { Db, PreparedRunner } from '../storage/database.js';
import type { EngineDeps } from './deps.js';
import type { FaultPoints } from './faults.js';
import { createPlanCache } from './plan.js';

/** Fills in what every process computes the same way: its executor id and a plan cache. */
export function createEngineDeps(options: {
  db: Db;
  prepared?: PreparedRunner | undefined;
  providers: ReadonlyMap<string, LlmProvider>;
  defaultModel: string;
  leaseMs: number;
  faults?: FaultPoints;
  artifactVerifier?: ArtifactVerifier | undefined;
}): EngineDeps {
  return {
    db: options.db,
    prepared: options.prepared,
    providers: options.providers,
    providerNames: [...options.providers.keys()],
    defaultModel: options.defaultModel,
    leaseMs: options.leaseMs,
    executorId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    plans: createPlanCache(),
    faults: options.faults,
    artifactVerifier: options.artifactVerifier ?? noRootsVerifier,
  };
}
