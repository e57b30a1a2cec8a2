import type { LlmProvider } from '../core/llm.js';
import type { ArtifactVerifier } from '../core/provenance/verification.js';
import type { Db, PreparedRunner } from '../storage/database.js';
import type { FaultPoints } from './faults.js';
import type { PlanCache } from './plan.js';

/** What the use cases need, wired once in the composition root (main.ts) or a test. */
export interface EngineDeps {
  readonly db: Db;
  /** Named prepared statements for the runner's hot statement, where the driver has them. */
  readonly prepared?: PreparedRunner | undefined;
  /** Provider names a manifest's `model: "provider:model"` may use. */
  readonly providerNames: readonly string[];
  readonly providers: ReadonlyMap<string, LlmProvider>;
  /** `provider:model` for task steps that name none (STEPGATE_DEFAULT_MODEL). */
  readonly defaultModel: string;
  /** Who this process is, as recorded in `dag_runs.executor_id` while it advances a run. */
  readonly executorId: string;
  /** How long a hold on a run lasts without renewal (STEPGATE_RUN_LEASE_MS). */
  readonly leaseMs: number;
  readonly plans: PlanCache;
  readonly faults?: FaultPoints | undefined;
  /** Digest verification at attest time (STEPGATE_ARTIFACT_ROOTS). */
  readonly artifactVerifier: ArtifactVerifier;
}
