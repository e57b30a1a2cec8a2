/**
 * Every condition a caller can act on has a class, a stable `code` and readonly context.
 * The HTTP status and the CLI exit code of each code live in one exhaustive switch each
 * (http/problem.ts, cli/exit-codes.ts). Messages say what to do next.
 */

export interface Issue {
  /** Where the problem is, e.g. `steps[1].compute_contract.verification`. */
  readonly path: string;
  /** What was expected and what was found. */
  readonly message: string;
}

abstract class StepgateErrorBase extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class MalformedBodyError extends StepgateErrorBase {
  readonly code = 'MALFORMED_BODY';
}

export class ManifestInvalidError extends StepgateErrorBase {
  readonly code = 'MANIFEST_INVALID';
  constructor(readonly issues: readonly Issue[]) {
    super(`The manifest is invalid: ${issues.length} problem${issues.length === 1 ? '' : 's'} found.`);
  }
}

export class ManifestConflictError extends StepgateErrorBase {
  readonly code = 'MANIFEST_CONFLICT';
  constructor(
    readonly manifestName: string,
    readonly version: number,
    readonly existingId: string,
  ) {
    super(
      `A different manifest is already stored as ${manifestName} version ${version} (id ${existingId}). ` +
        `Manifests are immutable: bump "version" to store the changed one.`,
    );
  }
}

export class ManifestNotFoundError extends StepgateErrorBase {
  readonly code = 'MANIFEST_NOT_FOUND';
  constructor(readonly manifestId: string) {
    super(`No manifest has id ${manifestId}. List manifests with GET /api/manifests.`);
  }
}

export class RunNotFoundError extends StepgateErrorBase {
  readonly code = 'RUN_NOT_FOUND';
  constructor(readonly runId: string) {
    super(`No run has id ${runId}. List runs with GET /api/runs.`);
  }
}

export class StepRunNotFoundError extends StepgateErrorBase {
  readonly code = 'STEP_RUN_NOT_FOUND';
  constructor(
    readonly runId: string,
    readonly stepRunId: string,
  ) {
    super(`Run ${runId} has no step run ${stepRunId}. GET /api/runs/${runId} lists its step runs.`);
  }
}

export class InputsInvalidError extends StepgateErrorBase {
  readonly code = 'INPUTS_INVALID';
  constructor(readonly issues: readonly Issue[]) {
    super(`The run's inputs do not fit what the manifest's templates need.`);
  }
}

export class RequestInvalidError extends StepgateErrorBase {
  readonly code = 'REQUEST_INVALID';
  constructor(
    readonly issues: readonly Issue[],
    message = 'The request is invalid.',
  ) {
    super(message);
  }
}

/** Digest verification at attest time found a file that differs from what was attested (SPEC §13). */
export class ArtifactMismatchError extends StepgateErrorBase {
  readonly code = 'ARTIFACT_MISMATCH';
  constructor(readonly issues: readonly Issue[]) {
    super(
      `The attested digest or size does not match the file the server read: ${issues.length} artifact${issues.length === 1 ? '' : 's'} differ. ` +
        'Nothing was stored; hash the file again (sha256sum, wc -c) and attest what it holds.',
    );
  }
}

/** Provenance was asked of a step run that has no attestation (yet). */
export class NotAttestedError extends StepgateErrorBase {
  readonly code = 'NOT_ATTESTED';
  constructor(
    readonly runId: string,
    readonly stepRunId: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export class RunExistsError extends StepgateErrorBase {
  readonly code = 'RUN_EXISTS';
  constructor(readonly runId: string) {
    super(`A run with id ${runId} exists already; GET /api/runs/${runId} shows it. Choose a new id to start another run.`);
  }
}

export class RunNotWaitingError extends StepgateErrorBase {
  readonly code = 'RUN_NOT_WAITING';
  constructor(
    readonly runId: string,
    readonly status: string,
  ) {
    super(
      `Run ${runId} is ${status}, not waiting: only a waiting run can be resumed` +
        (status === 'running' ? ' (another caller is advancing it right now).' : '.'),
    );
  }
}

export class StepRunNotWaitingError extends StepgateErrorBase {
  readonly code = 'STEP_RUN_NOT_WAITING';
  constructor(
    readonly stepRunId: string,
    readonly status: string,
    reason?: string,
  ) {
    super(
      reason ??
        `Step run ${stepRunId} is ${status}, not WAITING_FOR_ATTESTATION: only a compute step that waits can be attested.`,
    );
  }
}

export class AlreadyAttestedError extends StepgateErrorBase {
  readonly code = 'ALREADY_ATTESTED';
  constructor(readonly stepRunId: string) {
    super(`Step run ${stepRunId} is already attested; an attestation cannot be replaced.`);
  }
}

/** The run was taken over or ended by someone else while this process was advancing it. */
export class RunLeaseLostError extends StepgateErrorBase {
  readonly code = 'RUN_LEASE_LOST';
  constructor(readonly runId: string) {
    super(`This process no longer holds run ${runId}; another caller advanced or ended it.`);
  }
}

export class DataDirLockedError extends StepgateErrorBase {
  readonly code = 'DATA_DIR_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `The data directory ${dataDir} is in use by process ${holderPid}. ` +
        `Embedded PostgreSQL allows one process per directory: stop that process, ` +
        `use the running server (STEPGATE_URL), or set STEPGATE_DATA_DIR to another directory.`,
    );
  }
}

export class DatabaseUnavailableError extends StepgateErrorBase {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(options?: ErrorOptions) {
    super('The database does not answer; check DATABASE_URL or the server log, then retry.', options);
  }
}

export class ConfigInvalidError extends StepgateErrorBase {
  readonly code = 'CONFIG_INVALID';
}

export type StepgateError =
  | MalformedBodyError
  | ManifestInvalidError
  | ManifestConflictError
  | ManifestNotFoundError
  | RunNotFoundError
  | StepRunNotFoundError
  | InputsInvalidError
  | RequestInvalidError
  | ArtifactMismatchError
  | NotAttestedError
  | RunExistsError
  | RunNotWaitingError
  | StepRunNotWaitingError
  | AlreadyAttestedError
  | RunLeaseLostError
  | DataDirLockedError
  | DatabaseUnavailableError
  | ConfigInvalidError;

export type ErrorCode = StepgateError['code'];

export function isStepgateError(err: unknown): err is StepgateError {
  return err instanceof StepgateErrorBase;
}
