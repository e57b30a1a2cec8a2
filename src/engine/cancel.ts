import { RunNotCancellableError, RunNotFoundError } from '../core/errors.js';
import { carryingAudit } from './audit.js';
import type { EngineDeps } from './deps.js';
import { isUuid } from './manifests.js';
import { showRun, type RunView } from './runs.js';

/**
 * SPEC §9, §15 cancel: a pending, running or waiting run → `cancelled`; its waits are
 * cancelled. A runner busy with the run aborts the calls in flight, records each such step
 * CANCELLED (with the abort in its evidence), and starts nothing more. From a final status: 409.
 */
export async function cancelRun(deps: EngineDeps, runId: string, reason: string | null): Promise<RunView> {
  const outcome = isUuid(runId)
    ? await carryingAudit(runId, (audit) => deps.store.cancel(runId, reason, audit), (o) => o.kind === 'cancelled')
    : ({ kind: 'not-found' } as const);
  if (outcome.kind === 'not-found') throw new RunNotFoundError(runId);
  if (outcome.kind === 'final') throw new RunNotCancellableError(runId, outcome.status);
  // Executed here: its calls in flight are aborted now (elsewhere: at that runner's next lease renewal).
  deps.executing.get(runId)?.();
  return showRun(deps, runId);
}
