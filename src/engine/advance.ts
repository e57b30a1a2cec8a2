import { RunLeaseLostError } from '../core/errors.js';
import type { ClaimedRun, FlushResult, RunnerGuard, RunnerWrite, StepRunState } from '../core/run-store.js';
import type { EngineDeps } from './deps.js';
import { SimulatedCrash } from './faults.js';
import { keepLease, type LeaseKeeper } from './lease-keeper.js';
import { planOf, type Plan, type PlannedStep } from './plan.js';
import type { StepIo, StepState, TemplateContext } from './runner-types.js';
import { runTaskStep } from './task-step.js';
import { WriteBatch } from './write-batch.js';

export type { StepState } from './runner-types.js';

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
 * back as stalled at once, so that a resume takes it over and counts the steps in flight.
 */
export async function advanceHeldRun(deps: EngineDeps, run: RunToAdvance, options: AdvanceOptions): Promise<void> {
  const runner = new Runner(deps, await planOf(deps.db, deps.plans, run.manifestId), run, options);
  deps.executing.set(run.id, () => runner.cancel());
  try {
    await runner.advance();
  } catch (err) {
    if (!(err instanceof SimulatedCrash) && !(err instanceof RunLeaseLostError)) {
      await deps.store.handBack(run.id, deps.executorId).catch(() => {});
    }
    throw err;
  } finally {
    deps.executing.delete(run.id);
    runner.stopLease();
  }
}

/** Counts changes, so that a loop that looked at the state can wait for the next one without missing any. */
class Changes {
  private seen = 0;
  private waiting: Array<() => void> = [];

  get count(): number {
    return this.seen;
  }

  ring(): void {
    this.seen++;
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Settles at the first change after `since` (at once if there was one). */
  after(since: number): Promise<void> {
    return this.seen !== since ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }
}

/**
 * execute_manifest (SPEC §3, §9, §15). State is rebuilt from the database, never from an
 * earlier request: a step with a SUCCESS step run is never run again. Every step whose
 * `depends_on` are all SUCCESS starts at once — task steps concurrently, up to
 * STEPGATE_MAX_PARALLEL_STEPS for the run and their provider's slots for the process, in the
 * plan's order (topological, ties by manifest order) when a limit holds them back; compute
 * steps are parked. When nothing more can run the run is released as `waiting`, `success`
 * or `error`.
 *
 * Writes go through one batch per run (write-batch.ts): a step that ends is recorded with
 * the starts of the steps it unblocked, in one statement. Each flush tells the runner the
 * run's status and how many attestations it has had: a cancel aborts the calls in flight
 * (each such step ends CANCELLED, the abort recorded) and starts nothing more; an
 * attestation made meanwhile makes it read the step runs again before it decides anything
 * (a FAIL ends the run once the steps in flight are recorded, a SUCCESS unblocks what
 * depended on it), so it never parks a run that could go on. New work carries the
 * attestation count it was decided under, so the database refuses a decision made on a
 * state that changed meanwhile.
 */
class Runner {
  private readonly state = new Map<string, StepState>();
  /** Steps given a new attempt by a retry: the attempt that failed (or was cancelled). */
  private readonly retrying = new Map<string, number>();
  private context: TemplateContext;
  private guard: RunnerGuard;
  /** The attestation count `state` is at: new work is decided under it. */
  private seenSeq: number;
  private lease: LeaseKeeper | undefined;
  private readonly batch = new WriteBatch((writes) => this.write(writes));
  /** Task steps under way — waiting for a provider's slot, starting, or calling — by key. */
  private readonly active = new Map<string, Promise<void>>();
  private readonly changes = new Changes();
  private readonly cancelled = new AbortController();
  /** Aborted when the runner must stop at once (an unexpected failure): nothing more is written. */
  private readonly halted = new AbortController();
  private fatal: { readonly error: unknown } | undefined;
  private readonly io: StepIo;

  constructor(
    private readonly deps: EngineDeps,
    private readonly plan: Plan,
    private readonly run: RunToAdvance,
    options: AdvanceOptions,
  ) {
    this.io = {
      signal: AbortSignal.any([this.cancelled.signal, this.halted.signal]),
      decide: () => (this.stopping() ? undefined : this.seenSeq),
      queue: (write) => this.batch.queue(write),
      flush: () => this.batch.flush(),
    };
    if ('create' in options) {
      this.guard = { kind: 'create', runId: run.id, owner: deps.executorId, manifestId: run.manifestId, inputs: run.inputs, leaseMs: deps.leaseMs };
      this.seenSeq = 0;
      this.context = { inputs: run.inputs, steps: {} };
      return;
    }
    this.guard = { kind: 'held', runId: run.id, owner: deps.executorId };
    this.seenSeq = options.claimed.attestedSeq;
    this.lease = this.keepLease();
    this.context = this.rebuild(options.claimed.stepRuns);
    if (options.retry) {
      for (const [key, step] of this.state) if (step.status === 'FAIL' || step.status === 'CANCELLED') this.retrying.set(key, step.attempt);
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
      const seen = this.changes.count;
      if (this.fatal || this.cancelled.signal.aborted) {
        // Every step under way ends first: aborted, and (on a cancel) recorded.
        if (this.active.size > 0) {
          await this.changes.after(seen);
          continue;
        }
        if (this.fatal) throw this.fatal.error;
        this.batch.queue({ kind: 'drop-lease' });
        if (await this.flush()) return; // written: the hold ends (one that failed is fatal)
        continue;
      }
      const failed = this.firstFailed();
      if (!failed) this.startReady();
      if (this.active.size > 0) {
        await this.changes.after(seen);
        continue;
      }
      if (this.batch.pending.length > 0) {
        await this.flush();
        continue;
      }
      if (await this.release(failed)) return;
    }
  }

  /** Parks every compute step that is ready and starts ready task steps, in plan order, up to the run's limit. */
  private startReady(): void {
    for (const step of this.plan.steps) {
      if (this.active.has(step.key) || !this.isRunnable(step)) continue;
      const attempt = this.nextAttempt(step.key);
      if (step.type === 'compute') {
        this.batch.queue({ kind: 'park', manifestStepId: step.manifestStepId, stepKey: step.key, attempt, deadline: step.contract?.deadline, seenSeq: this.seenSeq });
        this.state.set(step.key, { id: '', status: 'WAITING_FOR_ATTESTATION', attempt, output: null, error: null, dueAt: null });
        continue;
      }
      if (this.active.size >= this.deps.maxParallelSteps) continue; // compute steps further on still park
      const running = runTaskStep(this.deps, step, this.state.get(step.key), attempt, this.context, this.io)
        .then(
          (outcome) => {
            if (outcome) this.record(step.key, outcome);
          },
          (err: unknown) => this.die(err),
        )
        .finally(() => {
          this.active.delete(step.key);
          this.batch.schedule(); // its outcome goes out with the starts of what it unblocked
          this.changes.ring();
        });
      this.active.set(step.key, running);
    }
  }

  private record(key: string, outcome: StepState): void {
    this.state.set(key, outcome);
    if (outcome.status === 'SUCCESS') this.context.steps[key] = { output: outcome.output };
  }

  /** Nothing new starts once the run is cancelled, a step failed, or the runner must stop. */
  private stopping(): boolean {
    return this.cancelled.signal.aborted || this.fatal !== undefined || this.firstFailed() !== undefined;
  }

  /** The first step in plan order whose latest attempt failed (and is not being retried). */
  private firstFailed(): PlannedStep | undefined {
    return this.plan.steps.find((step) => {
      const current = this.state.get(step.key);
      return current?.status === 'FAIL' && this.retrying.get(step.key) !== current.attempt;
    });
  }

  /** Ends the hold: `error` when a step failed, else `waiting`, `success` (or `error` for steps that cannot run). */
  private async release(failed: PlannedStep | undefined): Promise<boolean> {
    const statuses = this.plan.steps.map((step) => this.state.get(step.key)?.status);
    const status = failed ? 'error' : statuses.includes('WAITING_FOR_ATTESTATION') ? 'waiting' : statuses.every((s) => s === 'SUCCESS') ? 'success' : 'error';
    const error = failed ? this.failureOf(failed) : status === 'error' ? { message: 'steps could not run because an upstream step did not succeed' } : undefined;
    await this.deps.faults?.hit('beforeRelease');
    this.batch.queue({ kind: 'release', status, error, seenSeq: this.seenSeq });
    return (await this.flush())?.released ?? false;
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

  /**
   * Not started (or a task step left RUNNING by an executor that died, or one to retry), and
   * every dependency SUCCESS.
   */
  private isRunnable(step: PlannedStep): boolean {
    const current = this.state.get(step.key);
    if (current) {
      const leftover = current.status === 'RUNNING' && step.type === 'task';
      const retried = (current.status === 'FAIL' || current.status === 'CANCELLED') && this.retrying.get(step.key) === current.attempt;
      if (!leftover && !retried) return false;
    }
    return step.dependsOn.every((dep) => this.state.get(dep)?.status === 'SUCCESS');
  }

  private nextAttempt(key: string): number {
    const current = this.state.get(key);
    if (!current) return 1;
    return current.status === 'RUNNING' ? current.attempt : current.attempt + 1;
  }

  /** Flushes what is queued; a failure makes the runner stop (the loop then throws it). */
  private async flush(): Promise<FlushResult | undefined> {
    try {
      return await this.batch.flush();
    } catch {
      return undefined; // die() has recorded it
    }
  }

  /** One statement of the batch: learns the run's status, and reads the step runs again after an attestation. */
  private async write(writes: RunnerWrite[]): Promise<FlushResult> {
    if (this.fatal) throw this.fatal.error;
    try {
      const result = await this.deps.store.flush(this.guard, writes);
      if (!result.held || (this.lease?.lost && !result.released)) throw new RunLeaseLostError(this.run.id);
      if (this.guard.kind === 'create') {
        this.guard = { kind: 'held', runId: this.run.id, owner: this.deps.executorId };
        if (!result.released) this.lease = this.keepLease();
      }
      if (result.status === 'cancelled') this.cancel();
      if (result.attestedSeq !== this.seenSeq) await this.refresh();
      return result;
    } catch (err) {
      this.die(err);
      throw err;
    } finally {
      this.changes.ring();
    }
  }

  /** The run was cancelled: the calls in flight are aborted, nothing new starts. */
  cancel(): void {
    if (this.cancelled.signal.aborted) return;
    this.cancelled.abort();
    this.changes.ring();
  }

  /** An unexpected failure: every call in flight is aborted and nothing more is written. */
  private die(err: unknown): void {
    this.fatal ??= { error: err };
    this.halted.abort();
    this.changes.ring();
  }

  private keepLease(): LeaseKeeper {
    return keepLease(this.deps, this.run.id, (status) => {
      if (status === 'cancelled') this.cancel();
    });
  }

  private async refresh(): Promise<void> {
    const { attestedSeq, stepRuns } = await this.deps.store.readStepRuns(this.run.id);
    this.seenSeq = attestedSeq;
    // New work decided before the attestation would be refused anyway: it is decided again.
    this.batch.discard((write) => 'seenSeq' in write && write.seenSeq !== attestedSeq);
    this.context = this.rebuild(stepRuns);
  }

  /**
   * The latest attempt of each step — with what is queued but not yet written (steps that
   * ended, compute steps parked) over it — and the canonical outputs templates see
   * (`steps.X…`).
   */
  private rebuild(stepRuns: readonly StepRunState[]): TemplateContext {
    this.state.clear();
    for (const row of stepRuns) {
      const known = this.state.get(row.stepKey);
      if (!known || row.attempt > known.attempt) this.state.set(row.stepKey, row);
    }
    for (const write of this.batch.pending) {
      if (write.kind === 'finish') {
        const { outcome } = write;
        this.state.set(write.stepKey, {
          id: write.stepRunId,
          status: outcome.status,
          attempt: write.attempt,
          output: outcome.status === 'SUCCESS' ? outcome.output : null,
          error: outcome.status === 'SUCCESS' ? null : outcome.error,
          dueAt: null,
        });
      } else if (write.kind === 'park') {
        this.state.set(write.stepKey, { id: '', status: 'WAITING_FOR_ATTESTATION', attempt: write.attempt, output: null, error: null, dueAt: null });
      }
    }
    const steps: Record<string, unknown> = {};
    for (const [key, stepRun] of this.state) {
      if (stepRun.status !== 'SUCCESS') continue;
      steps[key] = this.plan.byKey.get(key)?.type === 'compute' ? stepRun.output : { output: stepRun.output };
    }
    return { inputs: this.run.inputs, steps };
  }
}
