import { canonicalComputeOutput, missingOutputs, type AttestedArtifact } from '../core/attestation.js';
import { AlreadyAttestedError, RequestInvalidError, RunNotFoundError, StepRunNotFoundError, StepRunNotWaitingError } from '../core/errors.js';
import { recordAttestation } from '../storage/attestations.js';
import * as runs from '../storage/runs.js';
import type { EngineDeps } from './deps.js';
import { isUuid } from './manifests.js';
import { planOf } from './plan.js';
import { showRun, type RunView } from './runs.js';

export interface AttestRequest {
  readonly outcome: 'SUCCESS' | 'FAIL';
  readonly notes?: string | null | undefined;
  readonly attestedBy: string;
  readonly artifacts: readonly AttestedArtifact[];
}

/**
 * SPEC §4. The checks before the transaction give the precise error; the transaction's
 * constraint and guarded update are what decide when requests race.
 */
export async function attestStep(deps: EngineDeps, runId: string, stepRunId: string, request: AttestRequest): Promise<RunView> {
  const stepRun = isUuid(runId) && isUuid(stepRunId) ? await runs.getStepRun(deps.db, runId, stepRunId) : undefined;
  const run = isUuid(runId) ? await runs.getRun(deps.db, runId) : undefined;
  if (!run) throw new RunNotFoundError(runId);
  if (!stepRun) throw new StepRunNotFoundError(runId, stepRunId);
  const step = (await planOf(deps.db, deps.plans, run.manifestId)).byKey.get(stepRun.stepKey)!;
  if (step.type !== 'compute' || !step.contract) {
    throw new StepRunNotWaitingError(stepRunId, stepRun.status, `Step run ${stepRunId} (${stepRun.stepKey}) is a task step: only compute steps are attested.`);
  }
  const attested = (await runs.attestationsOf(deps.db, [stepRunId])).has(stepRunId);
  if (attested) throw new AlreadyAttestedError(stepRunId);
  if (stepRun.status !== 'WAITING_FOR_ATTESTATION') throw new StepRunNotWaitingError(stepRunId, stepRun.status);

  const missing = missingOutputs(step.contract, request.outcome, request.artifacts);
  if (missing.length > 0) throw new RequestInvalidError(missing, `The attestation does not cover the contract of step ${step.key}.`);

  const notes = request.notes ?? null;
  const outcome = await recordAttestation(deps.db, {
    runId,
    stepRunId,
    outcome: request.outcome,
    notes,
    attestedBy: request.attestedBy,
    contractSnapshot: step.contract,
    artifacts: request.artifacts,
    output: canonicalComputeOutput(request.outcome, notes, request.artifacts),
  });
  if (outcome.kind === 'already-attested') throw new AlreadyAttestedError(stepRunId);
  if (outcome.kind === 'not-waiting') {
    const now = await runs.getStepRun(deps.db, runId, stepRunId);
    throw new StepRunNotWaitingError(stepRunId, now?.status ?? 'gone');
  }
  return showRun(deps, runId);
}
