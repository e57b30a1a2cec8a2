import type { StepRunRecord } from '../core/run-reads.js';
import type { PlannedStep } from './plan.js';
import type { RunState } from './run-state.js';
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
    /** A map step's items by what a resume (or retry) would do with each; null for an ordinary step. */
    readonly items: ItemsPlan | null;
  }>;
}

/** A map step's items: `total` is null while its list is not known yet (it comes from a step that has not run). */
export interface ItemsPlan {
  readonly total: number | null;
  readonly done: number;
  readonly willRun: number;
  readonly waiting: number;
  readonly failed: number;
  readonly blocked: number;
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
    const entry = (plan: StepPlan, attempt: number | null, reason: string, items: ItemsPlan | null = null) => {
      plans.set(step.key, plan);
      return { stepKey: step.key, stepType: step.type, plan, stepRunId: current?.id ?? null, attempt, reason, items };
    };
    if (step.forEach) {
      const blocker = step.dependsOn.find((dep) => plans.get(dep) !== 'done' && plans.get(dep) !== 'will_run');
      if (blocker) return entry('blocked', null, `it depends on ${blocker}, which ${describe(plans.get(blocker))}`, { total: null, done: 0, willRun: 0, waiting: 0, failed: 0, blocked: 0 });
      return mapEntry(view.state, step, action, run.status, entry);
    }
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

type Entry = (plan: StepPlan, attempt: number | null, reason: string, items: ItemsPlan | null) => RunPreview['steps'][number];

/**
 * A map step (SPEC §17) whose dependencies are done or will run: each item by the runner's
 * rules — reused when SUCCESS, run (or parked) when new, interrupted or retried, waiting,
 * failed; the step is as its items are.
 */
function mapEntry(state: RunState, step: PlannedStep, action: 'resume' | 'retry' | null, status: string, entry: Entry) {
  const expansion = state.expansion(step);
  if (!expansion) return entry(step.type === 'compute' ? 'waiting' : 'will_run', 1, `its list (${step.forEach!.join('.')}) is known once the steps it reads have run`, { total: null, done: 0, willRun: 0, waiting: 0, failed: 0, blocked: 0 });
  const slots = state.steps.get(step.key);
  const total = expansion.ok ? expansion.items.length : 0;
  const items = { total, done: 0, willRun: 0, waiting: 0, failed: 0, blocked: 0 };
  if (!expansion.ok || total === 0) {
    const own = slots?.own;
    if (own?.status === 'SUCCESS') return entry('done', own.attempt, 'its list is empty: it succeeded with []', items);
    if (own?.status === 'FAIL' && action !== 'retry') return entry('failed', own.attempt, (own.error as { message?: string } | null)?.message ?? 'its list is not one it can run over', items);
    if (action === null) return entry('blocked', null, `the run is ${status}`, items);
    return expansion.ok ? entry('will_run', (own?.attempt ?? 0) + 1, 'its list is empty: it will succeed with []', items) : entry('failed', (own?.attempt ?? 0) + 1, expansion.message, items);
  }
  for (let i = 0; i < total; i++) {
    const unit = slots?.items.get(i);
    const retried = action === 'retry' && (unit?.status === 'FAIL' || unit?.status === 'CANCELLED');
    if (unit?.status === 'SUCCESS') items.done++;
    else if (unit?.status === 'FAIL' && !retried) items.failed++;
    else if (unit?.status === 'WAITING_FOR_ATTESTATION' && unit.dueAt !== null && unit.dueAt.getTime() < Date.now()) items.failed++;
    else if (unit?.status === 'WAITING_FOR_ATTESTATION') items.waiting++;
    else if (unit?.status === 'CANCELLED' && !retried) items.blocked++;
    else if (action === null) items.blocked++;
    else if (step.type === 'compute') items.waiting++;
    else items.willRun++;
  }
  const counts = `${items.done} of ${total} done, ${items.willRun} to run, ${items.waiting} waiting, ${items.failed} failed`;
  if (items.done === total) return entry('done', null, `every item succeeded (${total}); they are reused, never rerun`, items);
  if (items.failed > 0) return entry('failed', null, `items failed: ${counts}`, items);
  if (items.willRun > 0) return entry('will_run', null, `items will run: ${counts}`, items);
  if (items.waiting > 0) return entry('waiting', null, `items wait for attestations: ${counts}`, items);
  return entry('blocked', null, action === null ? `the run is ${status}` : `items were cancelled: ${counts}`, items);
}
