import type { StepRunRecord } from '../core/run-reads.js';
import type { EngineDeps } from './deps.js';
import { showRun } from './runs.js';

export type StepPlan = 'done' | 'will_run' | 'waiting' | 'blocked' | 'failed';

export interface RunPreview {
  readonly runId: string;
  readonly status: string;
  readonly stalled: boolean;
  readonly action: 'resume' | 'retry' | null;
  readonly steps: ReadonlyArray<{
    readonly stepKey: string;
    readonly stepType: 'task' | 'compute';
    readonly plan: StepPlan;
    readonly stepRunId: string | null;
    readonly attempt: number | null;
    readonly reason: string;
  }>;
}

/**
 * GET /api/runs/{run_id}/plan (SPEC §9): what a resume would do now — or, for a run in
 * `error`, a retry — step by step, from the database alone: no write, no LLM call. It
 * follows the runner's rules: SUCCESS steps are reused; a step runs once its dependencies
 * succeeded; a compute step waits for an attestation; a wait past its deadline fails; and
 * once a step has failed, nothing new starts.
 */
export async function previewRun(deps: EngineDeps, runId: string): Promise<RunPreview> {
  const view = await showRun(deps, runId);
  const { run } = view;
  const action = run.status === 'waiting' || run.stalled ? 'resume' : run.status === 'error' ? 'retry' : null;
  const latest = new Map<string, StepRunRecord>();
  for (const stepRun of view.stepRuns) {
    const known = latest.get(stepRun.stepKey);
    if (!known || stepRun.attempt > known.attempt) latest.set(stepRun.stepKey, stepRun);
  }
  const plans = new Map<string, StepPlan>();
  const steps = view.plan.steps.map((step) => {
    const current = latest.get(step.key);
    const entry = (plan: StepPlan, attempt: number | null, reason: string) => {
      plans.set(step.key, plan);
      return { stepKey: step.key, stepType: step.type, plan, stepRunId: current?.id ?? null, attempt, reason };
    };
    if (current?.status === 'SUCCESS') return entry('done', current.attempt, `attempt ${current.attempt} succeeded; it is reused, never rerun`);
    const retried = action === 'retry' && (current?.status === 'FAIL' || current?.status === 'CANCELLED');
    if (current && !retried) {
      if (current.status === 'FAIL') return entry('failed', current.attempt, `attempt ${current.attempt} failed${action === 'resume' ? '' : '; a retry gives it a new attempt'}`);
      if (current.status === 'CANCELLED') return entry('blocked', current.attempt, `attempt ${current.attempt} was cancelled`);
      if (current.status === 'WAITING_FOR_ATTESTATION') {
        return current.overdue
          ? entry('failed', current.attempt, `its deadline passed (${current.dueAt?.toISOString()}): a resume ends it FAIL`)
          : entry('waiting', current.attempt, 'waits for an attestation');
      }
      if (action === null) return entry('will_run', current.attempt, `attempt ${current.attempt} is running now`);
    }
    const blocker = step.dependsOn.find((dep) => plans.get(dep) !== 'done' && plans.get(dep) !== 'will_run');
    const attempt = current ? current.attempt + 1 : 1;
    if (blocker) return entry('blocked', null, `it depends on ${blocker}, which ${describe(plans.get(blocker))}`);
    if (action === null) return entry('blocked', null, `the run is ${run.status}${run.status === 'running' ? ' under a live executor' : ''}`);
    return step.type === 'compute'
      ? entry('waiting', attempt, `it will be parked as attempt ${attempt} and wait for an attestation`)
      : entry('will_run', attempt, `it will run as attempt ${attempt}${current?.status === 'RUNNING' ? ' (its earlier attempt was interrupted)' : ''}`);
  });
  // Once a step has failed, the runner ends the run in error and starts nothing new.
  const failed = action === 'resume' ? steps.find((s) => s.plan === 'failed') : undefined;
  const final = failed
    ? steps.map((s) => (s.plan === 'will_run' || s.plan === 'waiting' ? { ...s, plan: 'blocked' as const, attempt: null, reason: `the run will end in error first: ${failed.stepKey} failed` } : s))
    : steps;
  return { runId: run.id, status: run.status, stalled: run.stalled, action, steps: final };
}

function describe(plan: StepPlan | undefined): string {
  switch (plan) {
    case 'waiting':
      return 'waits for an attestation';
    case 'failed':
      return 'failed';
    default:
      return 'cannot run yet';
  }
}
