import type { Problem } from './types.js';

/** A refused request: the HTTP status and the server's problem details (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The 422's `errors[]` by path (`artifacts[0].sha256` → message). */
  fieldErrors(): Map<string, string> {
    return new Map((this.problem?.errors ?? []).map((e) => [e.path, e.message]));
  }
}

function messageFor(status: number, problem: Problem | undefined): string {
  if (status === 401) return `Your token was refused (401): ${problem?.detail ?? 'it is missing, wrong, expired or revoked'}. Sign in again with a valid token.`;
  if (status === 403) return `Your role does not allow this (403): ${problem?.detail ?? 'ask an admin for a token with a higher role'}.`;
  if (problem?.detail) return problem.detail;
  return `The server answered ${status}.`;
}

export type Unauthorized = () => void;

/**
 * Every call of the console goes through here: same origin, JSON, `Authorization: Bearer` when
 * signed in with a token, problem+json turned into an ApiError with a message a person can act on.
 */
export class ApiClient {
  constructor(
    private readonly token: string | undefined,
    private readonly onUnauthorized: Unauthorized = () => {},
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const text = await this.send(method, path, body, contentType, 'application/json');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A GET answered with text rather than JSON (the event stream's replay), refused like any other call. */
  text(path: string, accept: string): Promise<string> {
    return this.send('GET', path, undefined, undefined, accept);
  }

  private async send(method: string, path: string, body: unknown, contentType: string | undefined, accept: string): Promise<string> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: this.headers({ accept, ...(body === undefined || !contentType ? {} : { 'content-type': contentType }) }),
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, undefined, `The server cannot be reached (${(err as Error).message}). Is stepgate running?`);
    }
    const text = await response.text();
    if (!response.ok) {
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      const problem = isProblem(parsed) ? parsed : undefined;
      if (response.status === 401) this.onUnauthorized();
      throw new ApiError(response.status, problem, messageFor(response.status, problem));
    }
    return text;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown, contentType?: string): Promise<T> {
    return this.request<T>('POST', path, body, contentType);
  }
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'status' in value && 'detail' in value;
}
