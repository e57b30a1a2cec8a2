import type { FlushResult, RunnerWrite, StepRunState } from '../core/run-store.js';

/** What the runner knows of a step: its latest attempt's step run. */
export type StepState = Pick<StepRunState, 'id' | 'status' | 'attempt' | 'output' | 'error' | 'dueAt'>;

/** …of one step, or of one item of a map step (`itemIndex`). */
export type UnitState = StepState & Pick<StepRunState, 'itemIndex'>;

/** What a step's templates see: the run's inputs and the canonical outputs of the steps that succeeded. */
export type TemplateContext = Record<string, unknown> & { readonly inputs: unknown; readonly steps: Record<string, unknown> };

/** How a task step reaches its runner: writes batched into the run's flushes, and the cancel. */
export interface StepIo {
  /** Aborted when the run is cancelled: the call in flight stops, and the step ends CANCELLED. */
  readonly signal: AbortSignal;
  /**
   * Asked just before the step's start is queued: the attestation count the runner's state is
   * at (the start is written only if no attestation came in since), or undefined when nothing
   * new may start any more (the run was cancelled, or a step failed).
   */
  decide(): number | undefined;
  queue(write: RunnerWrite): void;
  /** Writes what is queued, with whatever else the run has to write, in one statement. */
  flush(): Promise<FlushResult>;
}
