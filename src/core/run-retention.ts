import type { RunStatus } from './lifecycle.js';

/**
 * Retention, the operator's choice (docs/retention.md): the port that removes final runs and
 * their record. storage/retention.ts implements it; `stepgate runs prune` reaches it through
 * `POST /api/runs/prune` (admin, audited).
 */

/** Only final runs are ever removed: nothing can happen to them any more (a retry from error is the exception, and a retried run is no longer final). */
export const FINAL_RUN_STATUSES = ['success', 'error', 'cancelled'] as const satisfies readonly RunStatus[];
export type FinalRunStatus = (typeof FINAL_RUN_STATUSES)[number];

export const isFinalRunStatus = (status: string): status is FinalRunStatus => (FINAL_RUN_STATUSES as readonly string[]).includes(status);

export interface PruneCriteria {
  /** Runs that ended strictly before this time. */
  readonly endedBefore: Date;
  /** Of these final statuses. */
  readonly statuses: readonly FinalRunStatus[];
}

export interface RunRetention {
  /** How many runs `prune` would remove now. */
  countPrunable(criteria: PruneCriteria): Promise<number>;
  /**
   * Removes every run that matches, with its step runs, evidence, attestations, artifacts and
   * events, a batch per transaction; a run that stops matching meanwhile (retried) stays.
   * Answers how many runs were removed.
   */
  prune(criteria: PruneCriteria): Promise<number>;
}
