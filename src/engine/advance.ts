import { setMaxListeners } from 'node:events';
import { RunLeaseLostError } from '../core/errors.js';
import { unitName } from '../core/map-items.js';
import type { ClaimedRun, FlushResult, RunnerGuard, RunnerWrite, StepRunState } from '../core/run-store.js';
import { carryingAudit } from './audit.js';
import type { EngineDeps } from './deps.js';
import { SimulatedCrash } from './faults.js';
import { keepLease, type LeaseKeeper } from './lease-keeper.js';
import { planOf, type Plan, type PlannedStep } from './plan.js';
import { RunState, type Settlement } from './run-state.js';
import type { StepIo, UnitState } from './runner-types.js';
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
 * execute_manifest (SPEC §3, §9, §15, §17). State is rebuilt from the database, never from an
 * earlier request: a step (or item) with a SUCCESS step run is never run again. Every step
 * whose `depends_on` are all SUCCESS starts at once — task steps concurrently, up to
 * STEPGATE_MAX_PARALLEL_STEPS for the run and their provider's slots for the process, in the
 * plan's order (topological, ties by manifest order) when a limit holds them back; compute
 * steps are parked. A map step is one unit per item of its list, each going through the same
 * transitions as an ordinary step (which is a map of one); it is SUCCESS when every item is.
 * When nothing more can run the run is released as `waiting`, `success` or `error`.
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
  /** Units given a new attempt by a retry (by unit name, `B` or `B[3]`): the attempt that failed or was cancelled. */
  private readonly retrying = new Map<string, number>();
  private state: RunState;
  private guard: RunnerGuard;
  /** The attestation count `state` is at: new work is decided under it. */
  private seenSeq: number;
  private lease: LeaseKeeper | undefined;
  private readonly batch = new WriteBatch((writes) => this.write(writes));
  /** Task units under way — waiting for a provider's slot, starting, or calling — by unit name. */
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
    const signal = AbortSignal.any([this.cancelled.signal, this.halted.signal]);
    // Every call in flight listens to it (its request, its provider's queue): as many as run at once.
    setMaxListeners(0, signal);
    this.io = {
      signal,
      decide: () => (this.stopping() ? undefined : this.seenSeq),
      queue: (write) => this.batch.queue(write),
      flush: () => this.batch.flush(),
    };
    if ('create' in options) {
      this.guard = { kind: 'create', runId: run.id, owner: deps.executorId, manifestId: run.manifestId, inputs: run.inputs, leaseMs: deps.leaseMs };
      this.seenSeq = 0;
      this.state = new RunState(plan, run.inputs, deps.maxItems, this.retrying);
      return;
    }
    this.guard = { kind: 'held', runId: run.id, owner: deps.executorId };
    this.seenSeq = options.claimed.attestedSeq;
    this.lease = this.keepLease();
    if (options.retry) {
      // Every unit whose latest attempt failed or was cancelled gets a new attempt.
      const latest = RunState.of(plan, run.inputs, deps.maxItems, options.claimed.stepRuns.map((row) => ({ ...row })));
      for (const [key, slots] of latest.steps) {
        for (const unit of [slots.own, ...slots.items.values()]) {
          if (unit && (unit.status === 'FAIL' || unit.status === 'CANCELLED')) this.retrying.set(unitName(key, unit.itemIndex), unit.attempt);
        }
      }
    }
    this.state = this.rebuild(options.claimed.stepRuns);
  }

  stopLease(): void {
    this.lease?.stop();
  }

  async advance(): Promise<void> {
    const overdue = [...this.state.units()].some((s) => s.status === 'WAITING_FOR_ATTESTATION' && s.dueAt !== null && s.dueAt.getTime() < Date.now());
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
      // Nothing is under way and nothing more can start: what is queued (the last outcomes,
      // the parks) goes out with the release, in one statement.
      if (await this.release()) return;
    }
  }

  /**
   * Parks every compute unit that is ready, settles map steps with nothing to run, and starts
   * ready task units, in plan order (items in item order), up to the run's limit.
   */
  private startReady(): void {
    for (const step of this.plan.steps) {
      if (!this.state.dependenciesSucceeded(step) || this.state.statusOf(step) === 'SUCCESS') continue;
      for (const unit of this.state.unitsOf(step)) {
        const name = unitName(step.key, unit.itemIndex);
        const current = this.state.unit(step.key, unit.itemIndex);
        if (this.active.has(name) || !this.isRunnable(step, name, current)) continue;
        const attempt = current ? (current.status === 'RUNNING' ? current.attempt : current.attempt + 1) : 1;
        const base = { manifestStepId: step.manifestStepId, stepKey: step.key, attempt, itemIndex: unit.itemIndex, seenSeq: this.seenSeq };
        if (unit.settle) {
          this.batch.queue({ kind: 'settle', ...base, itemIndex: null, outcome: unit.settle });
          this.record(step, settled(unit.settle, attempt));
          continue;
        }
        if (step.type === 'compute') {
          this.batch.queue({ kind: 'park', ...base, item: unit.item, deadline: step.contract?.deadline });
          this.state.set(step.key, { id: '', itemIndex: unit.itemIndex, status: 'WAITING_FOR_ATTESTATION', attempt, output: null, error: null, dueAt: null });
          continue;
        }
        if (this.active.size >= this.deps.maxParallelSteps) continue; // compute steps further on still park
        const context = unit.itemIndex === null ? this.state.context : { ...this.state.context, item: unit.item, item_index: unit.itemIndex };
        const running = runTaskStep(this.deps, step, current, attempt, context, this.io, { itemIndex: unit.itemIndex, item: unit.item })
          .then(
            (outcome) => {
              if (outcome) this.record(step, outcome);
            },
            (err: unknown) => this.die(err),
          )
          .finally(() => {
            this.active.delete(name);
            this.batch.schedule(); // its outcome goes out with the starts of what it unblocked
            this.changes.ring();
          });
        this.active.set(name, running);
      }
    }
  }

  private record(step: PlannedStep, outcome: UnitState): void {
    this.state.set(step.key, outcome);
    if (outcome.status === 'SUCCESS') this.state.noteSuccess(step);
  }

  /** Nothing new starts once the run is cancelled, a step failed, or the runner must stop. */
  private stopping(): boolean {
    return this.cancelled.signal.aborted || this.fatal !== undefined || this.firstFailed() !== undefined;
  }

  /** The first step in plan order that failed (and is not being retried). */
  private firstFailed(): PlannedStep | undefined {
    return this.plan.steps.find((step) => this.state.statusOf(step) === 'FAIL');
  }

  /** Ends the hold: `error` when a step failed, else `waiting`, `success` (or `error` for steps that cannot run). */
  private async release(): Promise<boolean> {
    // As of what was just decided too (a map step settled FAIL by this pass).
    const failed = this.firstFailed();
    const waits = [...this.state.units()].some((unit) => unit.status === 'WAITING_FOR_ATTESTATION');
    const status = failed ? 'error' : waits ? 'waiting' : this.plan.steps.every((step) => this.state.statusOf(step) === 'SUCCESS') ? 'success' : 'error';
    const error = failed ? this.failureOf(failed) : status === 'error' ? { message: 'steps could not run because an upstream step did not succeed' } : undefined;
    if (status === 'error' && this.batch.pending.some((write) => write.kind === 'park')) {
      // Ending in error cancels the waits, and a statement cannot see the rows it inserts: parks first.
      await this.flush();
      return false;
    }
    await this.deps.faults?.hit('beforeRelease');
    this.batch.queue({ kind: 'release', status, error, seenSeq: this.seenSeq });
    return (await this.flush())?.released ?? false;
  }

  private failureOf(step: PlannedStep): unknown {
    const failed = this.state.failedUnit(step)!;
    const cause = (failed.error as { message?: unknown } | null)?.message;
    const what = failed.itemIndex === null ? `step ${step.key}` : `item ${failed.itemIndex} of step ${step.key}`;
    const message =
      step.type === 'task' || failed.itemIndex === null && step.forEach
        ? `${what} failed`
        : typeof cause === 'string' && cause.startsWith('deadline passed')
          ? `compute ${what} missed its deadline`
          : `compute ${what} was attested FAIL`;
    return { step_key: step.key, step_run_id: failed.id, ...(failed.itemIndex === null ? {} : { item_index: failed.itemIndex }), message };
  }

  /**
   * Not started (or a task unit left RUNNING by an executor that died, or one to retry); the
   * step's dependencies are known to have succeeded.
   */
  private isRunnable(step: PlannedStep, name: string, current: UnitState | undefined): boolean {
    if (!current) return true;
    const leftover = current.status === 'RUNNING' && step.type === 'task';
    const retried = (current.status === 'FAIL' || current.status === 'CANCELLED') && this.retrying.get(name) === current.attempt;
    return leftover || retried;
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
      const guard = this.guard;
      // A release (or a dropped lease) is the request's last write: it carries the request's audit row.
      const result = writes.some((w) => w.kind === 'release' || w.kind === 'drop-lease')
        ? await carryingAudit(this.run.id, (audit) => this.deps.store.flush(guard, writes, audit), (r) => r.released)
        : await this.deps.store.flush(guard, writes);
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
    this.state = this.rebuild(stepRuns);
  }

  /**
   * The latest attempt of each step and item — with what is queued but not yet written (units
   * that ended, compute units parked, map steps settled) over it — and the canonical outputs
   * templates see (`steps.X…`).
   */
  private rebuild(stepRuns: readonly StepRunState[]): RunState {
    const state = new RunState(this.plan, this.run.inputs, this.deps.maxItems, this.retrying);
    for (const row of stepRuns) state.offer(row.stepKey, row);
    for (const write of this.batch.pending) {
      if (write.kind === 'finish') {
        const { outcome } = write;
        const output = outcome.status === 'SUCCESS' ? outcome.output : null;
        const error = outcome.status === 'SUCCESS' ? null : outcome.error;
        state.set(write.stepKey, { id: write.stepRunId, itemIndex: write.itemIndex, status: outcome.status, attempt: write.attempt, output, error, dueAt: null });
      } else if (write.kind === 'park') {
        state.set(write.stepKey, { id: '', itemIndex: write.itemIndex, status: 'WAITING_FOR_ATTESTATION', attempt: write.attempt, output: null, error: null, dueAt: null });
      } else if (write.kind === 'settle') {
        state.set(write.stepKey, settled(write.outcome, write.attempt));
      }
    }
    state.settleOutputs();
    return state;
  }
}

function settled(outcome: Settlement, attempt: number): UnitState {
  return {
    id: '',
    itemIndex: null,
    status: outcome.status,
    attempt,
    output: outcome.status === 'SUCCESS' ? outcome.output : null,
    error: outcome.status === 'FAIL' ? outcome.error : null,
    dueAt: null,
  };
}
