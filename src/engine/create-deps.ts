import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LlmProvider } from '../core/llm.js';
import type { Db, PreparedRunner } from '../storage/database.js';
import { createRunStore } from '../storage/transitions/index.js';
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
  faults?: FaultPoints | undefined;
}): EngineDeps {
  return {
    db: options.db,
    store: createRunStore(options.db, options.prepared),
    prepared: options.prepared,
    providers: options.providers,
    providerNames: [...options.providers.keys()],
    defaultModel: options.defaultModel,
    leaseMs: options.leaseMs,
    executorId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    plans: createPlanCache(),
    faults: options.faults,
  };
}
