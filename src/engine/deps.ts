import type { InputLimits } from '../core/limits.js';
import type { LlmProvider } from '../core/llm.js';
import type { RunReads } from '../core/run-reads.js';
import type { RunRetention } from '../core/run-retention.js';
import type { RunStore } from '../core/run-store.js';
import type { Metrics } from '../core/metrics.js';
import type { ArtifactVerifier } from '../core/provenance/verification.js';
import type { Db, PreparedRunner } from '../storage/database.js';
import type { EventHub } from './events.js';
import type { FaultPoints } from './faults.js';
import type { TokenCache } from './token-cache.js';
import type { PlanCache } from './plan.js';
import type { ProviderSlots } from './provider-slots.js';

/** What the use cases need, wired once in the composition root (main.ts) or a test. */
export interface EngineDeps {
  readonly db: Db;
  /** Every transition of a run (storage/transitions), through the engine's own port. */
  readonly store: RunStore;
  /** Every read of runs, step runs and the inbox (storage/runs.ts), through the engine's own port. */
  readonly reads: RunReads;
  /** Removing final runs, the operator's choice (storage/retention.ts). */
  readonly retention: RunRetention;
  /** Named prepared statements for the runner's hot statement, where the driver has them. */
  readonly prepared?: PreparedRunner | undefined;
  /** Task steps of one run in flight at once (STEPGATE_MAX_PARALLEL_STEPS). */
  readonly maxParallelSteps: number;
  /** Items one map step may have (STEPGATE_MAX_ITEMS). */
  readonly maxItems: number;
  /** Calls in flight per provider in this process, at most its `max_concurrency` (SPEC §16). */
  readonly slots: ProviderSlots;
  /**
   * The runs this process is advancing now, each with what aborts its calls in flight: a cancel
   * made here reaches them at once (one made by another process, at the next lease renewal).
   */
  readonly executing: Map<string, () => void>;
  /** Provider names a manifest's `model: "provider:model"` may use. */
  readonly providerNames: readonly string[];
  readonly providers: ReadonlyMap<string, LlmProvider>;
  /** `provider:model` for task steps that name none (STEPGATE_DEFAULT_MODEL). */
  readonly defaultModel: string;
  /** Who this process is, as recorded in `dag_runs.lease_owner` while it advances a run. */
  readonly executorId: string;
  /** How long a hold on a run lasts without renewal (STEPGATE_RUN_LEASE_MS); renewed every third of it. */
  readonly leaseMs: number;
  readonly plans: PlanCache;
  readonly faults?: FaultPoints | undefined;
  /** Steps, string lengths and nesting a manifest may have (default DEFAULT_LIMITS). */
  readonly limits?: InputLimits | undefined;
  /** URI schemes an attested artifact may use (default DEFAULT_ARTIFACT_SCHEMES). */
  readonly artifactSchemes?: readonly string[] | undefined;
  /** Where the engine counts what it does (transitions, attestations); nothing when absent. */
  readonly metrics?: Metrics | undefined;
  /** Digest verification at attest time (STEPGATE_ARTIFACT_ROOTS). */
  readonly artifactVerifier: ArtifactVerifier;
  /** Run events of every process sharing the database, live (SPEC §12). */
  readonly events: EventHub;
  /** Token lookups kept while every revocation is heard (SPEC §10). */
  readonly tokens: TokenCache;
}
