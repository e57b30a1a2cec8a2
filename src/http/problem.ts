import type { Issue, StepgateError } from '../core/errors.js';

/** RFC 9457 problem details, as every error response carries them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: readonly Issue[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The HTTP status of every stepgate error code, in one exhaustive switch. */
export function httpStatusOf(err: StepgateError): number {
  switch (err.code) {
    case 'MALFORMED_BODY':
      return 400;
    case 'MANIFEST_NOT_FOUND':
    case 'RUN_NOT_FOUND':
    case 'STEP_RUN_NOT_FOUND':
    case 'NOT_ATTESTED':
      return 404;
    case 'MANIFEST_CONFLICT':
    case 'RUN_EXISTS':
    case 'RUN_NOT_WAITING':
    case 'STEP_RUN_NOT_WAITING':
    case 'ALREADY_ATTESTED':
    case 'RUN_LEASE_LOST':
      return 409;
    case 'MANIFEST_INVALID':
    case 'INPUTS_INVALID':
    case 'REQUEST_INVALID':
    case 'ARTIFACT_MISMATCH':
      return 422;
    case 'DATABASE_UNAVAILABLE':
      return 503;
    case 'DATA_DIR_LOCKED':
    case 'CONFIG_INVALID':
      return 500;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
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
