import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
      throw this.unreachable(err);
    }
    const text = await response.text();
    if (!response.ok) throw this.problemError(response.status, text);
    return text;
  }

  /**
   * A request whose answer is read as it arrives (NDJSON, Server-Sent Events), over node:http
   * rather than fetch: fetch gives up on a body that stays quiet for 300 s, and a streamed run
   * is quiet for as long as one LLM call takes. No client-side timeout at all; Ctrl+C ends it.
   * Resolves once the headers arrived; an error status is read whole and thrown as a CliError.
   */
  open(method: string, path: string, options: { accept: string; json?: unknown; headers?: Record<string, string> }): Promise<IncomingMessage> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: options.accept, ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token.token}`;
    const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers }, (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(response);
          return;
        }
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => reject(this.problemError(status, text)));
        response.on('error', (err) => reject(this.unreachable(err)));
      });
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end(payload);
    });
  }

  /** An error status with its problem+json body, as the sentence the CLI prints. */
  problemError(status: number, text: string): CliError {
    const parsed: unknown = text ? safeJson(text) : null;
    const problem = (parsed ?? { status, detail: text }) as Problem;
    const lines = [problem.detail ?? `HTTP ${status}`];
    for (const issue of problem.errors ?? []) lines.push(`  ${issue.path || '(body)'}: ${issue.message}`);
    if (status === 401) {
      lines.push(this.token ? `  (the token came from ${this.token.from})` : '  (no token: set STEPGATE_TOKEN, or run the CLI where <STEPGATE_DATA_DIR>/admin-token is, default ./.stepgate)');
    }
    return new CliError(lines.join('\n'), exitCodeOfStatus(status), problem);
  }

  private unreachable(err: unknown): CliError {
    // fetch wraps the socket's error in `cause`; node:http throws it as is (an AggregateError
    // with `errors` when every address of a host refused).
    type SocketError = { code?: string; message?: string; errors?: Array<{ code?: string }> };
    const inner = (err as { cause?: SocketError }).cause ?? (err as SocketError);
    const cause = inner.code ?? inner.errors?.[0]?.code ?? inner.message ?? String(err);
    return new CliError(
      `cannot reach the stepgate server at ${this.baseUrl} (${cause}). Start it with \`npm start\` (or \`stepgate serve\`) in the checkout, or set STEPGATE_URL to where it runs.`,
      EXIT.unreachable,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}
