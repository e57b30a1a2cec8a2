/**
 * Statuses and their allowed transitions, as data (SPEC §2). The database holds the same
 * rules as CHECK constraints; the engine's guarded updates name the expected status.
 */

export const RUN_STATUSES = ['pending', 'running', 'waiting', 'success', 'error'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Step run statuses. `CANCELLED` is ours beyond the SPEC: a compute step still waiting when
 * its run ends in `error` (another step failed) is cancelled, so nothing asks an operator to
 * attest work whose run is over.
 */
export const STEP_RUN_STATUSES = [
  'RUNNING',
  'SUCCESS',
  'FAIL',
  'WAITING_FOR_ATTESTATION',
  'CANCELLED',
] as const;
export type StepRunStatus = (typeof STEP_RUN_STATUSES)[number];

export const STEP_TYPES = ['task', 'compute'] as const;
export type StepType = (typeof STEP_TYPES)[number];

const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  pending: ['running', 'error'],
  running: ['waiting', 'success', 'error', 'running'],
  waiting: ['running', 'error'],
  success: [],
  error: [],
};

const STEP_RUN_TRANSITIONS: Readonly<Record<StepRunStatus, readonly StepRunStatus[]>> = {
  RUNNING: ['SUCCESS', 'FAIL', 'RUNNING'],
  WAITING_FOR_ATTESTATION: ['SUCCESS', 'FAIL', 'CANCELLED'],
  SUCCESS: [],
  FAIL: [],
  CANCELLED: [],
};

export function canTransitionRun(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export function canTransitionStepRun(from: StepRunStatus, to: StepRunStatus): boolean {
  return STEP_RUN_TRANSITIONS[from].includes(to);
}

export function isTerminalRun(status: RunStatus): boolean {
  return RUN_TRANSITIONS[status].length === 0;
}

export function isTerminalStepRun(status: StepRunStatus): boolean {
  return STEP_RUN_TRANSITIONS[status].length === 0;
}
