import { RunNotFoundError, RunNotRetryableError, RunNotWaitingError } from '../core/errors.js';
import type { EngineDeps } from './deps.js';
import { advanceHeldRun } from './advance.js';
import { isUuid } from './manifests.js';
import { showRun, type RunView } from './runs.js';

/**
 * SPEC §5, §9. One guarded claim (`… WHERE status = 'waiting'`, or `running` with an expired
 * lease: a stalled run, taken over) decides which caller advances the run; the others get
 * 409. The same run continues from the database: SUCCESS steps are never rerun.
 */
export async function resumeRun(deps: EngineDeps, runId: string): Promise<RunView> {
  const claimed = isUuid(runId) ? await deps.store.claimResume({ runId, owner: deps.executorId, leaseMs: deps.leaseMs }) : undefined;
  if (!claimed) {
    const run = isUuid(runId) ? await deps.reads.run(runId) : undefined;
    if (!run) throw new RunNotFoundError(runId);
    throw new RunNotWaitingError(runId, run.status);
  }
  await advanceHeldRun(deps, claimed, { claimed });
  return showRun(deps, runId);
}

/**
 * SPEC §9 retry: only from `error`. Every step whose last attempt ended FAIL (or was
 * cancelled because of it) gets a new attempt — a new step run row; the old row, its
 * evidence and its attestation stay as they were — and SUCCESS steps are reused. Then the
 * run continues exactly as on resume.
 */
export async function retryRun(deps: EngineDeps, runId: string): Promise<RunView> {
  const claimed = isUuid(runId) ? await deps.store.claimRetry({ runId, owner: deps.executorId, leaseMs: deps.leaseMs }) : undefined;
  if (!claimed) {
    const run = isUuid(runId) ? await deps.reads.run(runId) : undefined;
    if (!run) throw new RunNotFoundError(runId);
    throw new RunNotRetryableError(runId, run.status);
  }
  await advanceHeldRun(deps, claimed, { claimed, retry: true });
  return showRun(deps, runId);
}
