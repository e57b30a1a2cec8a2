import { canonicalComputeOutput, missingOutputs, type AttestedArtifact } from '../core/attestation.js';
import { checkArtifacts } from '../core/provenance/verification.js';
import { AlreadyAttestedError, ArtifactMismatchError, RequestInvalidError, RunNotFoundError, StepRunNotFoundError, StepRunNotWaitingError } from '../core/errors.js';
import { attestationTarget, recordAttestation } from '../storage/attestations.js';
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
  const target = isUuid(runId) ? await attestationTarget(deps.db, runId, isUuid(stepRunId) ? stepRunId : null, deps.prepared) : undefined;
  if (!target) throw new RunNotFoundError(runId);
  if (!target.step_key || !target.status) throw new StepRunNotFoundError(runId, stepRunId);
  const step = (await planOf(deps.db, deps.plans, target.run_manifest_id)).byKey.get(target.step_key)!;
  if (step.type !== 'compute' || !step.contract) {
    throw new StepRunNotWaitingError(stepRunId, target.status, `Step run ${stepRunId} (${target.step_key}) is a task step: only compute steps are attested.`);
  }
  if (target.attested) throw new AlreadyAttestedError(stepRunId);
  if (target.status !== 'WAITING_FOR_ATTESTATION') throw new StepRunNotWaitingError(stepRunId, target.status);

  const missing = missingOutputs(step.contract, request.outcome, request.artifacts);
  if (missing.length > 0) throw new RequestInvalidError(missing, `The attestation does not cover the contract of step ${step.key}.`);

  // Digest verification reads files: before the transaction, never inside it.
  const checked = await checkArtifacts(deps.artifactVerifier, request.artifacts);
  if (checked.mismatches.length > 0) throw new ArtifactMismatchError(checked.mismatches);

  const notes = request.notes ?? null;
  const outcome = await recordAttestation(deps.db, {
    runId,
    stepRunId,
    outcome: request.outcome,
    notes,
    attestedBy: request.attestedBy,
    contractSnapshot: step.contract,
    artifacts: request.artifacts.map((artifact, i) => ({ ...artifact, ...checked.results[i]! })),
    output: canonicalComputeOutput(request.outcome, notes, request.artifacts),
  }, deps.prepared);
  if (outcome.kind === 'already-attested') throw new AlreadyAttestedError(stepRunId);
  if (outcome.kind === 'not-waiting') {
    // Someone else got there first: answer what they made of it.
    const now = await attestationTarget(deps.db, runId, stepRunId, deps.prepared);
    if (now?.attested) throw new AlreadyAttestedError(stepRunId);
    throw new StepRunNotWaitingError(stepRunId, now?.status ?? 'gone');
  }
  return showRun(deps, runId);
}
