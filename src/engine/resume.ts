import { RunNotFoundError, RunNotWaitingError } from '../core/errors.js';
import { claimRun } from '../storage/attestations.js';
import * as runs from '../storage/runs.js';
import type { EngineDeps } from './deps.js';
import { advanceHeldRun } from './advance.js';
import { isUuid } from './manifests.js';
import { showRun, type RunView } from './runs.js';

/**
 * SPEC §5. One guarded claim (`… WHERE status = 'waiting'`, or `running` with an expired
 * lease: its process died) decides which caller advances the run; the others get 409.
 * The same run continues from the database: SUCCESS steps are never rerun.
 */
export async function resumeRun(deps: EngineDeps, runId: string): Promise<RunView> {
  const claimed = isUuid(runId) ? await claimRun(deps.db, { runId, executorId: deps.executorId, leaseMs: deps.leaseMs }, deps.prepared) : undefined;
  if (!claimed) {
    const run = isUuid(runId) ? await runs.getRun(deps.db, runId) : undefined;
    if (!run) throw new RunNotFoundError(runId);
    throw new RunNotWaitingError(runId, run.status);
  }
  await advanceHeldRun(deps, claimed, { stepRuns: claimed.stepRuns });
  return showRun(deps, runId);
}
