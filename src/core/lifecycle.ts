/**
 * The run's life, written once (SPEC §2, §9). Every status of a run and of a step run, and
 * every allowed `from → to` move with the transition that makes it. The database enforces
 * the statuses (CHECK constraints) and each transition is one guarded statement in
 * storage/transitions/ that locks the run row first and names the status it expects, so a
 * move not in these tables cannot happen, even when requests race.
 *
 * Terminology: a *run* is one execution of a manifest; a *step run* is one attempt of one
 * step in it; an *executor* is the server process advancing a run, holding its *lease*
 * (`lease_owner`, `lease_expires_at`); a run whose lease expired while `running` is
 * *stalled*; an *attestation* ends a compute step's wait.
 */

export const RUN_STATUSES = ['pending', 'running', 'waiting', 'success', 'error', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * `CANCELLED`: a step run that will not end on its own any more — its run was cancelled, or
 * the run ended in `error` while it waited for attestation.
 */
export const STEP_RUN_STATUSES = ['RUNNING', 'SUCCESS', 'FAIL', 'WAITING_FOR_ATTESTATION', 'CANCELLED'] as const;
export type StepRunStatus = (typeof STEP_RUN_STATUSES)[number];

/** The transitions, one verb each; each is one file in storage/transitions/. */
export type Transition =
  | 'create'
  | 'start-step'
  | 'finish-step'
  | 'park'
  | 'settle'
  | 'release'
  | 'attest'
  | 'claim-resume'
  | 'take-over'
  | 'cancel'
  | 'retry'
  | 'expire'
  | 'renew-lease'
  | 'hand-back';

export interface Move<S extends string> {
  readonly from: S | null;
  readonly to: S;
  readonly by: Transition;
}

/** Every allowed move of a run; `from: null` is its creation. Anything else is refused. */
export const RUN_MOVES: readonly Move<RunStatus>[] = [
  { from: null, to: 'running', by: 'create' },
  { from: 'running', to: 'waiting', by: 'release' },
  { from: 'running', to: 'success', by: 'release' },
  { from: 'running', to: 'error', by: 'release' },
  { from: 'waiting', to: 'running', by: 'claim-resume' },
  { from: 'running', to: 'running', by: 'take-over' },
  { from: 'waiting', to: 'error', by: 'attest' },
  { from: 'error', to: 'running', by: 'retry' },
  { from: 'pending', to: 'cancelled', by: 'cancel' },
  { from: 'running', to: 'cancelled', by: 'cancel' },
  { from: 'waiting', to: 'cancelled', by: 'cancel' },
];

/** Every allowed move of a step run; `from: null` is the insertion of a new attempt's row. */
export const STEP_RUN_MOVES: readonly Move<StepRunStatus>[] = [
  { from: null, to: 'RUNNING', by: 'start-step' },
  { from: null, to: 'WAITING_FOR_ATTESTATION', by: 'park' },
  // A map step with nothing to run: an empty list (SUCCESS), or one that is not a list or too long (FAIL).
  { from: null, to: 'SUCCESS', by: 'settle' },
  { from: null, to: 'FAIL', by: 'settle' },
  { from: 'RUNNING', to: 'SUCCESS', by: 'finish-step' },
  { from: 'RUNNING', to: 'FAIL', by: 'finish-step' },
  // A task step left RUNNING by an executor that died starts again as its next attempt.
  { from: 'RUNNING', to: 'RUNNING', by: 'take-over' },
  { from: 'RUNNING', to: 'CANCELLED', by: 'cancel' },
  // Its call aborted by a cancel while it was in flight, recorded by its executor.
  { from: 'RUNNING', to: 'CANCELLED', by: 'finish-step' },
  { from: 'WAITING_FOR_ATTESTATION', to: 'SUCCESS', by: 'attest' },
  { from: 'WAITING_FOR_ATTESTATION', to: 'FAIL', by: 'attest' },
  { from: 'WAITING_FOR_ATTESTATION', to: 'FAIL', by: 'expire' },
  { from: 'WAITING_FOR_ATTESTATION', to: 'CANCELLED', by: 'cancel' },
  { from: 'WAITING_FOR_ATTESTATION', to: 'CANCELLED', by: 'release' },
];

export function canMove<S extends string>(moves: readonly Move<S>[], from: S | null, to: S): boolean {
  return moves.some((move) => move.from === from && move.to === to);
}

export const isTerminalRun = (status: RunStatus): boolean => status === 'success' || status === 'error' || status === 'cancelled';

export const isTerminalStepRun = (status: StepRunStatus): boolean => status === 'SUCCESS' || status === 'FAIL' || status === 'CANCELLED';
