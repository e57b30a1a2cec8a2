import type { Issue, StepgateError } from '../core/errors.js';

/** RFC 9457 problem details, as every error response carries them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  /** The request's id (X-Request-Id), to quote when reporting it. */
  request_id?: string;
  errors?: readonly Issue[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The HTTP status of every stepgate error code, in one exhaustive switch. */
export function httpStatusOf(err: StepgateError): number {
  switch (err.code) {
    case 'MALFORMED_BODY':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'ROLE_TOO_LOW':
    case 'ORIGIN_NOT_ALLOWED':
      return 403;
    case 'HOST_NOT_ALLOWED':
      return 421;
    case 'RATE_LIMITED':
      return 429;
    case 'TOKEN_NOT_FOUND':
    case 'MANIFEST_NOT_FOUND':
    case 'RUN_NOT_FOUND':
    case 'STEP_RUN_NOT_FOUND':
    case 'NOT_ATTESTED':
      return 404;
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
      return 409;
    case 'MANIFEST_INVALID':
    case 'INPUTS_INVALID':
    case 'MODEL_UNKNOWN':
    case 'REQUEST_INVALID':
    case 'ARTIFACT_MISMATCH':
      return 422;
    case 'DATABASE_UNAVAILABLE':
      return 503;
    case 'DATA_DIR_LOCKED':
    case 'EMBEDDED_DATABASE_FAILED':
    case 'CONFIG_INVALID':
      return 500;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `urn:stepgate:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? (status < 500 ? 'Client Error' : 'Server Error'),
    status,
    detail,
    code,
    ...extra,
  };
}

export function problemOf(err: StepgateError): Problem {
  const status = httpStatusOf(err);
  const issues = 'issues' in err ? err.issues : undefined;
  return problem(status, err.code, err.message, issues ? { errors: issues } : {});
}
