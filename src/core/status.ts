/** Statuses (SPEC §2). The database holds them as CHECK constraints. */

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

/**
 * The transitions, as the guarded updates in storage/ make them (and docs/ARCHITECTURE.md
 * draws them). Each guarded update names the status it expects, so these are enforced where
 * two requests can race — in the database — not by a check in memory:
 *
 * - run: pending → running; running → waiting | success | error, or running again when a
 *   resume recovers a run whose lease expired; waiting → running (resume) | error (an
 *   attestation with outcome FAIL).
 * - step run: RUNNING → SUCCESS | FAIL, or RUNNING again as the next attempt;
 *   WAITING_FOR_ATTESTATION → SUCCESS | FAIL (attestation) | CANCELLED (its run ended in error).
 */
