import type { TokenSource } from './admin-token.js';
import { EXIT } from './exit-codes.js';

/**
 * The CLI talks to the HTTP API at STEPGATE_URL: one source of truth, and the embedded
 * database is never opened by two processes.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly problem?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Exit code for an HTTP problem status (README "Exit codes"). */
export function exitCodeOfStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.notAuthorized;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 503) return EXIT.unreachable;
  if (status >= 400 && status < 500) return EXIT.invalidInput;
  return EXIT.failure;
}

export interface Problem {
  status: number;
  code?: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    /** Sent as `Authorization: Bearer …` (STEPGATE_TOKEN or <STEPGATE_DATA_DIR>/admin-token). */
    readonly token?: TokenSource,
  ) {}

  /** Whether requests carry a token (then the server knows who attests). */
  get hasToken(): boolean {
    return this.token !== undefined;
  }

  async request<T>(method: string, path: string, body?: { json: unknown } | { yaml: string }): Promise<T> {
    const text = await this.requestText(method, path, body);
    return (text ? safeJson(text) : null) as T;
  }

  /** The body as text, for answers that are not one JSON document (JSON Lines). */
  async requestText(method: string, path: string, body?: { json: unknown } | { yaml: string }): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token.token}`;
    let payload: string | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = 'application/yaml';
      payload = body.yaml;
    }
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), { method, headers, body: payload });
    } catch (err) {
      const inner = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
      const cause = inner?.code ?? inner?.errors?.[0]?.code ?? inner?.message ?? (err as Error).message;
      throw new CliError(
        `cannot reach the stepgate server at ${this.baseUrl} (${cause}). Start it with \`npm start\` (or \`stepgate serve\`) in the checkout, or set STEPGATE_URL to where it runs.`,
        EXIT.unreachable,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      const parsed: unknown = text ? safeJson(text) : null;
      const problem = (parsed ?? { status: response.status, detail: text }) as Problem;
      const lines = [problem.detail ?? `HTTP ${response.status}`];
      for (const issue of problem.errors ?? []) lines.push(`  ${issue.path || '(body)'}: ${issue.message}`);
      if (response.status === 401) {
        lines.push(this.token ? `  (the token came from ${this.token.from})` : '  (no token: set STEPGATE_TOKEN, or run the CLI where <STEPGATE_DATA_DIR>/admin-token is, default ./.stepgate)');
      }
      throw new CliError(lines.join('\n'), exitCodeOfStatus(response.status), problem);
    }
    return text;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}
