import type { RunStatus, StepRunStatus } from '../core/lifecycle.js';
import { stepOf, type RunView, type showStepRun } from '../engine/runs.js';
import type { ManifestRow, StoredManifest } from '../storage/manifests.js';
import type { AttestationRecord, RunRecord, StepRunRecord, TaskEvidence } from '../core/run-reads.js';

/** Rows → the snake_case JSON of SPEC §7. Timestamps as ISO 8601. */

export function iso(value: Date): string;
export function iso(value: Date | null): string | null;
export function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

export function manifestSummaryJson(row: ManifestRow) {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    description: row.description,
    content_hash: row.contentHash,
    created_at: iso(row.createdAt),
  };
}

export function manifestJson(manifest: StoredManifest) {
  return {
    ...manifestSummaryJson(manifest),
    document: manifest.document,
    steps: manifest.steps.map((step) => ({
      id: step.id,
      key: step.key,
      position: step.position,
      step_type: step.stepType as 'task' | 'compute' | null,
      depends_on: step.dependsOn,
      prompt: step.prompt,
      system: step.system,
      model: step.model,
      params: step.params,
      output: step.output,
      compute_contract: step.computeContract,
      for_each: step.forEach,
    })),
  };
}

export function runSummaryJson(run: RunRecord) {
  return {
    id: run.id,
    manifest_id: run.manifestId,
    status: run.status as RunStatus,
    inputs: run.inputs,
    error: run.error ?? null,
    created_at: iso(run.createdAt),
    started_at: iso(run.startedAt),
    ended_at: iso(run.endedAt),
    stalled: run.stalled,
    ready_to_resume: run.readyToResume,
    cancel_reason: run.cancelReason,
  };
}

export function runJson(view: RunView) {
  const stepRuns = view.stepRuns.map((stepRun) => stepRunJson(stepRun, stepOf(view.plan, stepRun)?.type ?? 'task', view.attestations.get(stepRun.id)));
  return {
    ...runSummaryJson(view.run),
    waiting_on: stepRuns
      .filter((s) => s.status === 'WAITING_FOR_ATTESTATION')
      .map((s) => ({ step_run_id: s.id, step_key: s.step_key, ...(s.item_index === null ? {} : { item_index: s.item_index }) })),
    map_steps: view.plan.steps.filter((step) => step.forEach).map((step) => ({ step_key: step.key, ...view.state.progress(step) })),
    usage: usageJson(view.usage),
    step_runs: stepRuns,
  };
}

/** The run's tokens in all, and by provider and model. */
export function usageJson(byModel: RunView['usage']) {
  const sum = (pick: (row: RunView['usage'][number]) => number) => byModel.reduce((total, row) => total + pick(row), 0);
  return {
    calls: sum((row) => row.calls),
    tries: sum((row) => row.tries),
    prompt_tokens: sum((row) => row.prompt_tokens),
    completion_tokens: sum((row) => row.completion_tokens),
    total_tokens: sum((row) => row.total_tokens),
    calls_without_usage: sum((row) => row.calls_without_usage),
    by_model: byModel.map((row) => ({ ...row })),
  };
}

export function stepRunJson(stepRun: StepRunRecord, stepType: 'task' | 'compute', attestation: AttestationRecord | undefined) {
  return {
    id: stepRun.id,
    step_key: stepRun.stepKey,
    step_type: stepType,
    item_index: stepRun.itemIndex,
    item: stepRun.itemIndex === null ? null : (stepRun.item ?? null),
    status: stepRun.status as StepRunStatus,
    attempt: stepRun.attempt,
    started_at: iso(stepRun.startedAt),
    ended_at: iso(stepRun.endedAt),
    due_at: iso(stepRun.dueAt),
    overdue: stepRun.overdue,
    output: stepRun.output ?? null,
    error: stepRun.error ?? null,
    attestation: attestation ? attestationJson(attestation) : null,
  };
}

export function attestationJson(attestation: AttestationRecord) {
  return {
    id: attestation.id,
    outcome: attestation.outcome as 'SUCCESS' | 'FAIL',
    notes: attestation.notes,
    attested_by: attestation.attestedBy,
    attested_by_verified: attestation.attestedByVerified,
    token_id: attestation.tokenId,
    attested_at: iso(attestation.attestedAt),
    contract_snapshot: attestation.contractSnapshot,
    artifacts: attestation.artifacts.map((a) => ({
      name: a.name,
      uri: a.uri,
      sha256: a.sha256,
      bytes: a.bytes,
      verified: a.verified,
      verification: a.verification,
      created_at: iso(a.createdAt),
    })),
  };
}

export function stepRunDetailJson(detail: Awaited<ReturnType<typeof showStepRun>>) {
  const { stepRun, stepType, contract, artifacts, attestation } = detail;
  return {
    ...stepRunJson(stepRun, stepType, attestation),
    run_id: stepRun.runId,
    compute_contract: contract ?? null,
    artifacts: artifacts ? taskEvidenceJson(artifacts) : null,
  };
}

/** A task step run's evidence per attempt: its prompts, LLM calls and parsed outputs (the step run's detail, the export). */
export function taskEvidenceJson(evidence: TaskEvidence) {
  return {
    prompts: evidence.prompts.map((p) => ({
      attempt: p.attempt,
      created_at: iso(p.createdAt),
      template: p.template,
      system_template: p.systemTemplate,
      values: p.values,
      messages: p.messages ?? null,
      error: p.error ?? null,
    })),
    llm_calls: evidence.calls.map((c) => ({
      attempt: c.attempt,
      created_at: iso(c.createdAt),
      provider: c.provider,
      model: c.model,
      request: c.request,
      response: c.response ?? null,
      usage: c.usage ?? null,
      latency_ms: c.latencyMs,
      tries: c.tries,
      error: c.error ?? null,
    })),
    parsed_outputs: evidence.parsed.map((p) => ({ attempt: p.attempt, created_at: iso(p.createdAt), format: p.format as 'text' | 'json', value: p.value ?? null, error: p.error ?? null })),
  };
}
