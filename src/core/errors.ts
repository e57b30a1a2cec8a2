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

/** A step names a model its provider does not serve (the provider listed its models). */
export class ModelUnknownError extends StepgateErrorBase {
  readonly code = 'MODEL_UNKNOWN';
  constructor(readonly issues: readonly Issue[]) {
    super(
      `${issues.length === 1 ? 'A step names a model' : `${issues.length} steps name models`} the provider does not serve: ${issues.map((i) => i.message).join('; ')}. ` +
        `Fix the step's "model" (or STEPGATE_DEFAULT_MODEL) and store the manifest as a new version.`,
    );
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
      `Run ${runId} is ${status}, not waiting: only a waiting run (or a stalled one) can be resumed` +
        (status === 'running' ? ' (another caller is advancing it right now).' : status === 'error' ? ' (retry it to give its failed steps a new attempt).' : '.'),
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

export class RunNotCancellableError extends StepgateErrorBase {
  readonly code = 'RUN_NOT_CANCELLABLE';
  constructor(
    readonly runId: string,
    readonly status: string,
  ) {
    super(`Run ${runId} is ${status}: it has ended, and only a pending, running or waiting run can be cancelled.`);
  }
}

export class RunNotRetryableError extends StepgateErrorBase {
  readonly code = 'RUN_NOT_RETRYABLE';
  constructor(
    readonly runId: string,
    readonly status: string,
  ) {
    super(
      `Run ${runId} is ${status}, not error: only a run that ended in error can be retried` +
        (status === 'waiting' ? ' (resume it instead).' : status === 'running' ? ' (another caller is advancing it right now).' : '.'),
    );
  }
}

export class DeadlinePassedError extends StepgateErrorBase {
  readonly code = 'DEADLINE_PASSED';
  constructor(readonly stepRunId: string) {
    super(
      `Step run ${stepRunId} is past its deadline (due_at): it can no longer be attested. ` +
        `Resume the run to record the missed deadline, then retry it to give the step a new attempt and a new due_at.`,
    );
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

/** The embedded PostgreSQL server could not be made or started; the message says why and what to do. */
export class EmbeddedPostgresError extends StepgateErrorBase {
  readonly code = 'EMBEDDED_DATABASE_FAILED';
  constructor(detail: string) {
    super(`The embedded PostgreSQL server could not start: ${detail}. STEPGATE_EMBEDDED=pglite uses PGlite instead; DATABASE_URL uses a PostgreSQL server of yours.`);
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

/** Why a request carries no usable token (401). */
export type TokenRefusal = 'missing' | 'malformed' | 'unknown' | 'expired' | 'revoked';

const REFUSALS: Record<TokenRefusal, string> = {
  missing: 'This endpoint needs a token: send `Authorization: Bearer <token>` (the CLI reads STEPGATE_TOKEN, else <STEPGATE_DATA_DIR>/admin-token).',
  malformed: 'The Authorization header is not `Bearer <token>`: send `Authorization: Bearer sg_…`.',
  unknown: 'The token is not known to this server: check you copied it whole, or ask an admin for one (`stepgate token create`).',
  expired: 'The token has expired: ask an admin for a new one (`stepgate token create`).',
  revoked: 'The token has been revoked: ask an admin for a new one (`stepgate token create`).',
};

export class UnauthenticatedError extends StepgateErrorBase {
  readonly code = 'UNAUTHENTICATED';
  constructor(readonly reason: TokenRefusal) {
    super(REFUSALS[reason]);
  }
}

export class RoleTooLowError extends StepgateErrorBase {
  readonly code = 'ROLE_TOO_LOW';
  constructor(
    readonly tokenName: string,
    readonly role: string,
    readonly required: string,
  ) {
    super(`The token "${tokenName}" has the role ${role}; this needs ${required} or above. Ask an admin for a token with that role.`);
  }
}

export class HostNotAllowedError extends StepgateErrorBase {
  readonly code = 'HOST_NOT_ALLOWED';
  constructor(readonly host: string | undefined) {
    super(
      `This server does not answer to the host ${host ? `"${host}"` : '(none)'}: use a loopback address or the HOST it listens on, ` +
        'or add the name to STEPGATE_ALLOWED_HOSTS.',
    );
  }
}

export class OriginNotAllowedError extends StepgateErrorBase {
  readonly code = 'ORIGIN_NOT_ALLOWED';
  constructor(readonly origin: string) {
    super(`Requests that change something are refused from the origin "${origin}": only the server's own origin, or one in STEPGATE_ALLOWED_ORIGINS, may send them.`);
  }
}

export class RateLimitedError extends StepgateErrorBase {
  readonly code = 'RATE_LIMITED';
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many requests: the limit is ${limit} per window. Retry in ${retryAfterSeconds} s (Retry-After).`);
  }
}

export class TokenNotFoundError extends StepgateErrorBase {
  readonly code = 'TOKEN_NOT_FOUND';
  constructor(readonly token: string) {
    super(`No token is named or has the id "${token}". List tokens with \`stepgate token list\` (GET /api/tokens).`);
  }
}

export class TokenNameTakenError extends StepgateErrorBase {
  readonly code = 'TOKEN_NAME_TAKEN';
  constructor(readonly tokenName: string) {
    super(`A token named "${tokenName}" exists already (names stay taken after revocation, so the audit log stays unambiguous): choose another name.`);
  }
}

export class TokenRevokedError extends StepgateErrorBase {
  readonly code = 'TOKEN_ALREADY_REVOKED';
  constructor(readonly tokenName: string) {
    super(`The token "${tokenName}" is already revoked.`);
  }
}

export type StepgateError =
  | MalformedBodyError
  | ManifestInvalidError
  | ManifestConflictError
  | ManifestNotFoundError
  | RunNotFoundError
  | StepRunNotFoundError
  | InputsInvalidError
  | ModelUnknownError
  | RequestInvalidError
  | ArtifactMismatchError
  | NotAttestedError
  | RunExistsError
  | RunNotWaitingError
  | StepRunNotWaitingError
  | AlreadyAttestedError
  | RunNotCancellableError
  | RunNotRetryableError
  | DeadlinePassedError
  | RunLeaseLostError
  | DataDirLockedError
  | EmbeddedPostgresError
  | DatabaseUnavailableError
  | ConfigInvalidError
  | UnauthenticatedError
  | RoleTooLowError
  | HostNotAllowedError
  | OriginNotAllowedError
  | RateLimitedError
  | TokenNotFoundError
  | TokenNameTakenError
  | TokenRevokedError;

export type ErrorCode = StepgateError['code'];

export function isStepgateError(err: unknown): err is StepgateError {
  return err instanceof StepgateErrorBase;
}
