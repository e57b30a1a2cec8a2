import { randomUUID } from 'node:crypto';
import { InputsInvalidError, ManifestNotFoundError, RunExistsError, RunNotFoundError, StepRunNotFoundError, type Issue } from '../core/errors.js';
import { expandForEach } from '../core/map-items.js';
import { lookup } from '../core/template.js';
import * as runs from '../storage/runs.js';
import type { RunUsageRow } from '../storage/run-usage.js';
import { isUniqueViolation } from '../storage/sqlstate.js';
import { advanceHeldRun } from './advance.js';
import type { EngineDeps } from './deps.js';
import { checkModels } from './models.js';
import { isUuid } from './manifests.js';
import { planOf, type Plan } from './plan.js';
import { RunState } from './run-state.js';
import type { UnitState } from './runner-types.js';

/** A run as the API shows it: the row, its step runs in plan order, and their attestations. */
export interface RunView {
  readonly run: runs.RunRow;
  readonly plan: Plan;
  /** What the step runs say of each step (and map step's items): statuses, outputs, lists. */
  readonly state: RunState;
  readonly stepRuns: runs.StepRunRow[];
  readonly attestations: ReadonlyMap<string, runs.AttestationWithArtifacts>;
  /** Tokens the run's LLM calls used, by provider and model (SPEC §16). */
  readonly usage: readonly RunUsageRow[];
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
  const view = isUuid(runId) ? await runs.getRunView(deps.db, runId, deps.prepared) : undefined;
  if (!view) throw new RunNotFoundError(runId);
  const plan = await planOf(deps.db, deps.plans, view.run.manifestId);
  const position = new Map(plan.steps.map((step, i) => [step.key, i]));
  // In plan order; a map step's items in item order, each item's attempts in order.
  view.stepRuns.sort((a, b) => (position.get(a.stepKey) ?? 0) - (position.get(b.stepKey) ?? 0) || (a.itemIndex ?? -1) - (b.itemIndex ?? -1) || a.attempt - b.attempt);
  return { ...view, plan, state: RunState.of(plan, view.run.inputs, deps.maxItems, view.stepRuns as Array<UnitState & { stepKey: string }>) };
}

export function listRuns(deps: EngineDeps, page: { limit: number; offset: number; status?: string | undefined; manifestId?: string | undefined }) {
  return runs.listRuns(deps.db, page);
}

/** One step run with its evidence: task artifacts per attempt, or the attestation. */
export async function showStepRun(deps: EngineDeps, runId: string, stepRunId: string) {
  const run = isUuid(runId) ? await runs.getRun(deps.db, runId) : undefined;
  if (!run) throw new RunNotFoundError(runId);
  const stepRun = isUuid(stepRunId) ? await runs.getStepRun(deps.db, runId, stepRunId) : undefined;
  if (!stepRun) throw new StepRunNotFoundError(runId, stepRunId);
  const plan = await planOf(deps.db, deps.plans, run.manifestId);
  const step = plan.byKey.get(stepRun.stepKey)!;
  const [artifacts, attestations] = await Promise.all([
    step.type === 'task' ? runs.taskArtifactsOf(deps.db, stepRun.id) : undefined,
    step.type === 'compute' ? runs.attestationsOf(deps.db, [stepRun.id]) : undefined,
  ]);
  return { stepRun, step, artifacts, attestation: attestations?.get(stepRun.id) };
}
