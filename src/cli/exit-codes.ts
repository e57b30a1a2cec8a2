import type { StepgateError } from '../core/errors.js';

/** Documented exit codes (README "Exit codes"); scripts depend on them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  conflict: 3,
  notFound: 4,
  unreachable: 5,
  /** No usable token (missing, unknown, expired, revoked) or a role too low for the command. */
  notAuthorized: 6,
  /** `stepgate verify`: a signature does not verify with the keys given (or the statement is unsigned). */
  signatureBad: 7,
  /** `stepgate verify`: the signatures verify, but a local file differs from the statement's subjects. */
  fileDiffers: 8,
  /** `stepgate run`, `resume`, `retry`, `watch RUN`: the run ended `error` (a step failed). */
  runError: 9,
  /** `stepgate run`, `resume`, `retry`, `watch RUN`: the run ended `cancelled`. */
  runCancelled: 10,
} as const;

/**
 * The exit code of a command that ran (or followed) a run, by the status it left the run in:
 * `success` and `waiting` (parked for an attestation, as designed) are 0.
 */
export function exitCodeOfRun(status: string): number {
  if (status === 'error') return EXIT.runError;
  if (status === 'cancelled') return EXIT.runCancelled;
  return EXIT.ok;
}

/** The exit code of every stepgate error code, in one exhaustive switch. */
export function exitCodeOf(err: StepgateError): number {
  switch (err.code) {
    case 'MALFORMED_BODY':
    case 'MANIFEST_INVALID':
    case 'INPUTS_INVALID':
    case 'MODEL_UNKNOWN':
    case 'REQUEST_INVALID':
    case 'ARTIFACT_MISMATCH':
    case 'CONFIG_INVALID':
      return EXIT.invalidInput;
    case 'TOKEN_NAME_TAKEN':
    case 'TOKEN_ALREADY_REVOKED':
    case 'MANIFEST_CONFLICT':
    case 'RUN_EXISTS':
    case 'RUN_NOT_WAITING':
    case 'STEP_RUN_NOT_WAITING':
    case 'ALREADY_ATTESTED':
    case 'RUN_NOT_CANCELLABLE':
    case 'RUN_NOT_RETRYABLE':
    case 'DEADLINE_PASSED':
    case 'RUN_LEASE_LOST':
    case 'DATA_DIR_LOCKED':
      return EXIT.conflict;
    case 'TOKEN_NOT_FOUND':
    case 'MANIFEST_NOT_FOUND':
    case 'RUN_NOT_FOUND':
    case 'STEP_RUN_NOT_FOUND':
    case 'NOT_ATTESTED':
      return EXIT.notFound;
    case 'DATABASE_UNAVAILABLE':
    case 'EMBEDDED_DATABASE_FAILED':
      return EXIT.unreachable;
    case 'UNAUTHENTICATED':
    case 'ROLE_TOO_LOW':
    case 'ORIGIN_NOT_ALLOWED':
    case 'HOST_NOT_ALLOWED':
      return EXIT.notAuthorized;
    case 'RATE_LIMITED':
      return EXIT.failure;
  }
}
