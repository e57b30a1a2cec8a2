import { randomUUID } from 'node:crypto';
import { InputsInvalidError, ManifestNotFoundError, RunExistsError, RunNotFoundError, StepRunNotFoundError, type Issue } from '../core/errors.js';
import type { AttestationRecord, RunListQuery, RunRecord, RunUsageRecord, StepRunRecord } from '../core/run-reads.js';
import { expandForEach } from '../core/map-items.js';
import { lookup } from '../core/template.js';
import { isUniqueViolation } from '../storage/sqlstate.js';
import { advanceHeldRun } from './advance.js';
import type { EngineDeps } from './deps.js';
import { afterCursor, withCursor, type ListQuery } from './lists.js';
import { checkModels } from './models.js';
import { isUuid } from './manifests.js';
import { planOf, type Plan, type PlannedStep } from './plan.js';
import { RunState } from './run-state.js';
import type { UnitState } from './runner-types.js';

/** A run as the API shows it: the row, its step runs in plan order, and their attestations. */
export interface RunView {
  readonly run: RunRecord;
  readonly plan: Plan;
  /** What the step runs say of each step (and map step's items): statuses, outputs, lists. */
  readonly state: RunState;
  readonly stepRuns: StepRunRecord[];
  readonly attestations: ReadonlyMap<string, AttestationRecord>;
  /** Tokens the run's LLM calls used, by provider and model (SPEC §16). */
  readonly usage: readonly RunUsageRecord[];
}

/** POST /api/runs: create a run and execute it until it waits or ends. */
export async function startRun(deps: EngineDeps, request: { manifestId: string; inputs: Record<string, unknown>; runId?: string | undefined }): Promise<RunView> {
  // A stored manifest has at least one step: an empty plan means there is no such manifest.
  const plan = isUuid(request.manifestId) ? await planOf(deps.db, deps.plans, request.manifestId) : undefined;
  if (!plan || plan.steps.length === 0) {
    deps.plans.delete(request.manifestId);
    throw new ManifestNotFoundError(request.manifestId);
  }
  const missing = [...missingInputs(plan, request.inputs), ...listProblems(plan, request.inputs, deps.maxItems)];
  if (missing.length > 0) throw new InputsInvalidError(missing);
  await checkModels(deps, plan);
  // A caller may choose the run's id (to follow the run while it executes, or to retry the
  // request safely): the primary key makes a second start with the same id a 409.
  const run = { id: request.runId ?? randomUUID(), manifestId: plan.manifestId, inputs: request.inputs };
  try {
    await advanceHeldRun(deps, run, { create: true });
  } catch (err) {
    if (request.runId && isUniqueViolation(err, 'dag_runs_pkey')) throw new RunExistsError(request.runId);
    throw err;
  }
  return showRun(deps, run.id);
}

/** Every `{{inputs.…}}` a template needs unconditionally must be there before anything runs. */
function missingInputs(plan: Plan, inputs: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const step of plan.steps) {
    for (const ref of [...(step.template?.references ?? []), ...(step.system?.references ?? [])]) {
      if (ref.conditional || ref.parts[0] !== 'inputs' || seen.has(ref.original)) continue;
      if (lookup({ inputs }, ref.parts) === undefined) {
        seen.add(ref.original);
        issues.push({ path: ref.original, message: `required by step "${step.key}" ({{${ref.original}}}), found nothing` });
      }
    }
  }
  return issues;
}

/** A map step over the run's inputs whose list the inputs already show is not one it can run over (SPEC §17). */
function listProblems(plan: Plan, inputs: Record<string, unknown>, maxItems: number): Issue[] {
  return plan.steps.flatMap((step) => {
    if (step.forEach?.[0] !== 'inputs') return [];
    const expansion = expandForEach({ inputs }, step.forEach, maxItems);
    return expansion.ok ? [] : [{ path: step.forEach.join('.'), message: `${expansion.message} (step "${step.key}" maps over it)` }];
  });
}

export async function showRun(deps: EngineDeps, runId: string): Promise<RunView> {
  const view = isUuid(runId) ? await deps.reads.runView(runId) : undefined;
  if (!view) throw new RunNotFoundError(runId);
  const plan = await planOf(deps.db, deps.plans, view.run.manifestId);
  const position = new Map(plan.steps.map((step, i) => [step.key, i]));
  const positionOf = (stepRun: StepRunRecord) => position.get(stepOf(plan, stepRun)?.key ?? '') ?? plan.steps.length;
  // In plan order; a map step's items in item order, each item's attempts in order.
  view.stepRuns.sort((a, b) => positionOf(a) - positionOf(b) || (a.itemIndex ?? -1) - (b.itemIndex ?? -1) || a.attempt - b.attempt);
  // A status stepgate never writes (a row it did not write) matches no status the state knows.
  return { ...view, plan, state: RunState.of(plan, view.run.inputs, deps.maxItems, view.stepRuns as Array<UnitState & { stepKey: string }>) };
}

/**
 * Runs newest first, a page at a time: after the `cursor` of the page before (keyset), or
 * after `offset` runs (compatibility; it reads every run it skips). The cursor is bound to
 * the filters; the exact count only with `count`.
 */
export async function listRuns(deps: EngineDeps, query: ListQuery & Omit<RunListQuery, 'after'>) {
  const filters = { status: query.status, manifest_id: query.manifestId };
  return withCursor('runs', filters, await deps.reads.listRuns({ ...query, after: afterCursor('runs', filters, query) }));
}


/**
 * The step of a step run: by its key, else by the manifest step it references (a row stepgate
 * did not write may name a key its run's manifest does not have); undefined when neither.
 */
export function stepOf(plan: Plan, stepRun: Pick<StepRunRecord, 'stepKey' | 'manifestStepId'>): PlannedStep | undefined {
  return plan.byKey.get(stepRun.stepKey) ?? plan.steps.find((step) => step.manifestStepId === stepRun.manifestStepId);
}

/** One step run with its evidence: task artifacts per attempt, or the attestation. */
export async function showStepRun(deps: EngineDeps, runId: string, stepRunId: string) {
  const run = isUuid(runId) ? await deps.reads.run(runId) : undefined;
  if (!run) throw new RunNotFoundError(runId);
  const stepRun = isUuid(stepRunId) ? await deps.reads.stepRun(runId, stepRunId) : undefined;
  if (!stepRun) throw new StepRunNotFoundError(runId, stepRunId);
  const plan = await planOf(deps.db, deps.plans, run.manifestId);
  const step = stepOf(plan, stepRun);
  const stepType = step?.type ?? 'task';
  const [artifacts, attestations] = await Promise.all([
    stepType === 'task' ? deps.reads.taskEvidence(stepRun.id) : undefined,
    stepType === 'compute' ? deps.reads.attestations([stepRun.id]) : undefined,
  ]);
  return { stepRun, stepType, contract: step?.contract, artifacts, attestation: attestations?.get(stepRun.id) };
}
