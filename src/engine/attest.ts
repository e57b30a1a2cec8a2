import { canonicalComputeOutput, DEFAULT_ARTIFACT_SCHEMES, missingOutputs, schemeIssues, type AttestedArtifact } from '../core/attestation.js';
import { checkArtifacts } from '../core/provenance/verification.js';
import { AlreadyAttestedError, ArtifactMismatchError, DeadlinePassedError, RequestInvalidError, RunNotFoundError, StepRunNotFoundError, StepRunNotWaitingError } from '../core/errors.js';
import { attestationTarget } from '../storage/attestations.js';
import { carryingAudit } from './audit.js';
import type { EngineDeps } from './deps.js';
import { isUuid } from './manifests.js';
import { planOf } from './plan.js';
import { showRun, type RunView } from './runs.js';

export interface AttestRequest {
  readonly outcome: 'SUCCESS' | 'FAIL';
  readonly notes?: string | null | undefined;
  readonly attestedBy: string;
  /** The token the attestation is made with (SPEC §10); null with authentication off, when attestedBy is not verified. */
  readonly tokenId: string | null;
  readonly artifacts: readonly AttestedArtifact[];
}

/**
 * SPEC §4. The checks before the transaction give the precise error; the transaction's
 * constraint and guarded update are what decide when requests race.
 */
export async function attestStep(deps: EngineDeps, runId: string, stepRunId: string, request: AttestRequest): Promise<RunView> {
  const refused = schemeIssues(request.artifacts, deps.artifactSchemes ?? DEFAULT_ARTIFACT_SCHEMES);
  if (refused.length > 0) throw new RequestInvalidError(refused, `The request body is invalid: ${refused.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const target = isUuid(runId) ? await attestationTarget(deps.db, runId, isUuid(stepRunId) ? stepRunId : null, deps.prepared) : undefined;
  if (!target) throw new RunNotFoundError(runId);
  if (!target.step_key || !target.status) throw new StepRunNotFoundError(runId, stepRunId);
  const step = (await planOf(deps.db, deps.plans, target.run_manifest_id)).byKey.get(target.step_key)!;
  if (step.type !== 'compute' || !step.contract) {
    throw new StepRunNotWaitingError(stepRunId, target.status, `Step run ${stepRunId} (${target.step_key}) is a task step: only compute steps are attested.`);
  }
  if (target.attested) throw new AlreadyAttestedError(stepRunId);
  refuseUnlessWaiting(stepRunId, target);

  const missing = missingOutputs(step.contract, request.outcome, request.artifacts);
  if (missing.length > 0) throw new RequestInvalidError(missing, `The attestation does not cover the contract of step ${step.key}.`);

  // Digest verification reads files: before the transaction, never inside it.
  const checked = await checkArtifacts(deps.artifactVerifier, request.artifacts);
  if (checked.mismatches.length > 0) throw new ArtifactMismatchError(checked.mismatches);

  const notes = request.notes ?? null;
  await deps.faults?.hit('beforeAttest');
  const attestation = {
    runId,
    stepRunId,
    outcome: request.outcome,
    notes,
    attestedBy: request.attestedBy,
    tokenId: request.tokenId,
    contractSnapshot: step.contract,
    artifacts: request.artifacts.map((artifact, i) => ({ ...artifact, ...checked.results[i]! })),
    output: canonicalComputeOutput(request.outcome, notes, request.artifacts),
  };
  const outcome = await carryingAudit(runId, (audit) => deps.store.attest(attestation, audit), (o) => o.kind === 'attested');
  if (outcome.kind === 'already-attested') throw new AlreadyAttestedError(stepRunId);
  if (outcome.kind === 'refused') {
    // Someone else got there first (another attest, a cancel, the run's end): say what happened.
    const now = await attestationTarget(deps.db, runId, stepRunId, deps.prepared);
    if (now?.attested) throw new AlreadyAttestedError(stepRunId);
    refuseUnlessWaiting(stepRunId, now ?? { status: 'gone', run_status: outcome.runStatus ?? 'gone', overdue: outcome.overdue });
    throw new StepRunNotWaitingError(stepRunId, outcome.stepStatus ?? 'gone', `Step run ${stepRunId} could not be attested: its run is ${outcome.runStatus ?? 'gone'}.`);
  }
  deps.metrics?.attestation(request.outcome);
  await deps.faults?.hit('afterAttest');
  return showRun(deps, runId);
}

/** 409 with the precise reason when a step run cannot be attested now. */
function refuseUnlessWaiting(stepRunId: string, target: { status: string | null; run_status: string; overdue: boolean | null }): void {
  if (target.status !== 'WAITING_FOR_ATTESTATION') {
    const why = target.run_status === 'cancelled' ? ` Its run was cancelled.` : target.run_status === 'error' ? ` Its run ended in error; retry the run to give the step a new attempt.` : '';
    throw new StepRunNotWaitingError(stepRunId, target.status ?? 'gone', `Step run ${stepRunId} is ${target.status}, not WAITING_FOR_ATTESTATION: only a compute step that waits can be attested.${why}`);
  }
  if (target.run_status !== 'waiting' && target.run_status !== 'running') {
    throw new StepRunNotWaitingError(stepRunId, target.status, `Step run ${stepRunId} cannot be attested: its run is ${target.run_status}.`);
  }
  if (target.overdue) throw new DeadlinePassedError(stepRunId);
}
