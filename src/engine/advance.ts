import { RunLeaseLostError } from '../core/errors.js';
import type { ClaimedRun, RunnerGuard, RunnerWrite, StepRunState } from '../core/run-store.js';
import type { EngineDeps } from './deps.js';
import { SimulatedCrash } from './faults.js';
import { keepLease, type LeaseKeeper } from './lease-keeper.js';
import { planOf, type Plan, type PlannedStep } from './plan.js';
import { runTaskStep, type TemplateContext } from './task-step.js';

/** The run as the runner needs it; a new run is inserted by the runner's first statement. */
export interface RunToAdvance {
  readonly id: string;
  readonly manifestId: string;
  readonly inputs: unknown;
}

/**
 * `create`: the run does not exist yet (the first statement inserts it, held by this
 * executor). Otherwise the caller claimed it (resume, take-over or retry) and read its step
 * runs; `retry` gives every step whose last attempt failed or was cancelled a new attempt.
 */
export type AdvanceOptions = { readonly create: true } | { readonly claimed: ClaimedRun; readonly retry?: boolean };

/**
 * Advances a run this executor holds, renewing its lease while it works. If advancing fails
 * unexpectedly (not a decision: say, the database connection dropped), the run is handed
 * back as stalled at once, so that a resume takes it over and counts the step in flight.
 */
export async function advanceHeldRun(deps: EngineDeps, run: RunToAdvance, options: AdvanceOptions): Promise<void> {
  const runner = new Runner(deps, await planOf(deps.db, deps.plans, run.manifestId), run, options);
  try {
    await runner.advance();
  } catch (err) {
    if (!(err instanceof SimulatedCrash) && !(err instanceof RunLeaseLostError)) {
      await deps.store.handBack(run.id, deps.executorId).catch(() => {});
    }
    throw err;
  } finally {
    runner.stopLease();
  }
}

/** What the runner knows of a step: its latest attempt's step run. */
export type StepState = Pick<StepRunState, 'id' | 'status' | 'attempt' | 'output' | 'error' | 'dueAt'>;

/**
 * execute_manifest (SPEC §3, §9). State is rebuilt from the database, never from an earlier
 * request: a step with a SUCCESS step run is never run again. Steps run in the plan's order
 * (topological, ties by manifest order) once all their `depends_on` are SUCCESS; compute
 * steps are parked; when nothing more can run the run is released as `waiting`, `success`
 * or `error`. Writes are batched: one statement per task step (storage/transitions).
 *
 * Each flush tells the runner the run's status and how many attestations it has had: a
 * cancel makes it stop after recording the step in flight; an attestation made meanwhile
 * makes it read the step runs again before it decides anything (a FAIL ends the run, a
 * SUCCESS unblocks what depended on it), so it never parks a run that could go on.
 */
class Runner {
  private readonly state = new Map<string, StepState>();
  private readonly retrying = new Set<string>();
  private context: TemplateContext;
  private writes: RunnerWrite[] = [];
  private guard: RunnerGuard;
  private cancelled = false;
  /** Whether the last flush found the run cancelled or attested meanwhile. */
  private changed = false;
  private lease: LeaseKeeper | undefined;

  constructor(
    private readonly deps: EngineDeps,
    private readonly plan: Plan,
    private readonly run: RunToAdvance,
    options: AdvanceOptions,
  ) {
    if ('create' in options) {
      this.guard = { kind: 'create', runId: run.id, owner: deps.executorId, manifestId: run.manifestId, inputs: run.inputs, leaseMs: deps.leaseMs };
      this.context = { inputs: run.inputs, steps: {} };
      return;
    }
    this.guard = { kind: 'held', runId: run.id, owner: deps.executorId, seenSeq: options.claimed.attestedSeq };
    this.lease = keepLease(deps, run.id);
    this.context = this.rebuild(options.claimed.stepRuns);
    if (options.retry) {
      for (const [key, step] of this.state) if (step.status === 'FAIL' || step.status === 'CANCELLED') this.retrying.add(key);
    }
  }

  stopLease(): void {
    this.lease?.stop();
  }

  async advance(): Promise<void> {
    const overdue = [...this.state.values()].some((s) => s.status === 'WAITING_FOR_ATTESTATION' && s.dueAt !== null && s.dueAt.getTime() < Date.now());
    if (overdue && this.retrying.size === 0) {
      await this.deps.store.expireOverdue(this.run.id, this.deps.executorId);
      await this.refresh();
    }
    for (;;) {
      if (this.cancelled) {
        this.writes.push({ kind: 'drop-lease' });
        await this.flush();
        return;
      }
      const failed = this.plan.steps.find((step) => this.state.get(step.key)?.status === 'FAIL' && !this.retrying.has(step.key));
      const next = failed ? undefined : this.plan.steps.find((step) => this.isRunnable(step));
      if (failed || !next) {
        if (await this.release(failed)) return;
        continue; // an attestation or a cancel came in meanwhile: look again
      }
      if (next.type === 'compute') {
        this.writes.push({ kind: 'park', manifestStepId: next.manifestStepId, stepKey: next.key, attempt: this.nextAttempt(next.key), deadline: next.contract?.deadline });
        this.state.set(next.key, { id: '', status: 'WAITING_FOR_ATTESTATION', attempt: this.nextAttempt(next.key), output: null, error: null, dueAt: null });
        this.retrying.delete(next.key);
        continue;
      }
      const outcome = await runTaskStep(this.deps, next, this.state.get(next.key), this.nextAttempt(next.key), this.context, {
        queue: (write) => this.writes.push(write),
        flush: () => this.flush(),
      });
      if (!outcome) {
        // Not started: the flush saw an attestation or a cancel, and the runner looks again.
        if (!this.changed) throw new Error(`step ${next.key} could not be started as attempt ${this.nextAttempt(next.key)}`);
        continue;
      }
      this.retrying.delete(next.key);
      this.state.set(next.key, outcome);
      if (outcome.status === 'SUCCESS') this.context.steps[next.key] = { output: outcome.output };
    }
  }

  /** Ends the hold: `error` when a step failed, else `waiting`, `success` (or `error` for steps that cannot run). */
  private async release(failed: PlannedStep | undefined): Promise<boolean> {
    const statuses = this.plan.steps.map((step) => this.state.get(step.key)?.status);
    const status = failed ? 'error' : statuses.includes('WAITING_FOR_ATTESTATION') ? 'waiting' : statuses.every((s) => s === 'SUCCESS') ? 'success' : 'error';
    const error = failed ? this.failureOf(failed) : status === 'error' ? { message: 'steps could not run because an upstream step did not succeed' } : undefined;
    await this.deps.faults?.hit('beforeRelease');
    this.writes.push({ kind: 'release', status, error });
    return (await this.flush()).released;
  }

  private failureOf(step: PlannedStep): unknown {
    const stepRun = this.state.get(step.key)!;
    const cause = (stepRun.error as { message?: unknown } | null)?.message;
    const message =
      step.type === 'task'
        ? `step ${step.key} failed`
        : typeof cause === 'string' && cause.startsWith('deadline passed')
          ? `compute step ${step.key} missed its deadline`
          : `compute step ${step.key} was attested FAIL`;
    return { step_key: step.key, step_run_id: stepRun.id, message };
  }

  /** Not started (or a task step left RUNNING by an executor that died, or one to retry), and every dependency SUCCESS. */
  private isRunnable(step: PlannedStep): boolean {
    const current = this.state.get(step.key);
    if (current) {
      const leftover = current.status === 'RUNNING' && step.type === 'task';
      const retried = (current.status === 'FAIL' || current.status === 'CANCELLED') && this.retrying.has(step.key);
      if (!leftover && !retried) return false;
    }
    return step.dependsOn.every((dep) => this.state.get(dep)?.status === 'SUCCESS');
  }

  private nextAttempt(key: string): number {
    const current = this.state.get(key);
    if (!current) return 1;
    return current.status === 'RUNNING' ? current.attempt : current.attempt + 1;
  }

  /** Writes what is queued; learns the run's status and whether it must read the step runs again. */
  private async flush() {
    this.changed = false;
    const result = await this.deps.store.flush(this.guard, this.writes);
    this.writes = [];
    if (!result.held || (this.lease?.lost && !result.released)) throw new RunLeaseLostError(this.run.id);
    if (this.guard.kind === 'create') {
      this.guard = { kind: 'held', runId: this.run.id, owner: this.deps.executorId, seenSeq: result.attestedSeq };
      if (!result.released) this.lease = keepLease(this.deps, this.run.id);
    }
    if (result.status === 'cancelled') this.cancelled = this.changed = true;
    if (result.attestedSeq !== this.guard.seenSeq) {
      this.changed = true;
      await this.refresh();
    }
    return result;
  }

  private async refresh(): Promise<void> {
    const { attestedSeq, stepRuns } = await this.deps.store.readStepRuns(this.run.id);
    this.guard = { kind: 'held', runId: this.run.id, owner: this.deps.executorId, seenSeq: attestedSeq };
    this.context = this.rebuild(stepRuns);
  }

  /** The latest attempt of each step, and the canonical outputs templates see (`steps.X…`). */
  private rebuild(stepRuns: readonly StepRunState[]): TemplateContext {
    this.state.clear();
    for (const row of stepRuns) {
      const known = this.state.get(row.stepKey);
      if (!known || row.attempt > known.attempt) this.state.set(row.stepKey, row);
    }
    const steps: Record<string, unknown> = {};
    for (const [key, stepRun] of this.state) {
      if (stepRun.status !== 'SUCCESS') continue;
      steps[key] = this.plan.byKey.get(key)?.type === 'compute' ? stepRun.output : { output: stepRun.output };
    }
    return { inputs: this.run.inputs, steps };
  }
}
