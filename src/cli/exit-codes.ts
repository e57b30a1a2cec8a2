import type { StepgateError } from '../core/errors.js';

/** Documented exit codes (README "Exit codes"); scripts depend on them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  conflict: 3,
  notFound: 4,
  unreachable: 5,
  /** `stepgate verify`: a signature does not verify with the keys given (or the statement is unsigned). */
  signatureBad: 6,
  /** `stepgate verify`: the signatures verify, but a local file differs from the statement's subjects. */
  fileDiffers: 7,
} as const;

/** The exit code of every stepgate error code, in one exhaustive switch. */
export function exitCodeOf(err: StepgateError): number {
  switch (err.code) {
    case 'MALFORMED_BODY':
    case 'MANIFEST_INVALID':
    case 'INPUTS_INVALID':
    case 'REQUEST_INVALID':
    case 'ARTIFACT_MISMATCH':
    case 'CONFIG_INVALID':
      return EXIT.invalidInput;
    case 'MANIFEST_CONFLICT':
    case 'RUN_EXISTS':
    case 'RUN_NOT_WAITING':
    case 'STEP_RUN_NOT_WAITING':
    case 'ALREADY_ATTESTED':
    case 'RUN_LEASE_LOST':
    case 'DATA_DIR_LOCKED':
      return EXIT.conflict;
    case 'MANIFEST_NOT_FOUND':
    case 'RUN_NOT_FOUND':
    case 'STEP_RUN_NOT_FOUND':
    case 'NOT_ATTESTED':
      return EXIT.notFound;
    case 'DATABASE_UNAVAILABLE':
      return EXIT.unreachable;
  }
}
