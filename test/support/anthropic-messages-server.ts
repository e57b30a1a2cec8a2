import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking Anthropic's Messages API as its documentation describes it, so
 * that tests exercise the official SDK over a real socket:
 * - `POST /v1/messages` wants an `anthropic-version` header and a JSON body with `model`,
 *   `max_tokens` (an integer) and `messages` (a list), else 400 `invalid_request_error`; with
 *   `apiKey` set, a request without that key (`x-api-key`, or `Authorization: Bearer`) gets
 *   401 `authentication_error`. It answers a Message (`type: "message"`, `content` blocks,
 *   `stop_reason`, `usage` with `input_tokens`/`output_tokens`), or an error envelope
 *   (`{ type: "error", error: { type, message }, request_id }`), with a `request-id` header.
 * - `GET /v1/models` lists `models` (`{ data, has_more, first_id, last_id }`).
 * Every message request is recorded (refused ones too); each that passes the checks takes the
 * next scripted answer (the last one repeats).
 */
export type AnthropicAnswer =
  | {
      /** The reply's text block (for JSON output, the JSON text the API's structured output returns). */
      text: string;
      stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'refusal' | 'model_context_window_exceeded';
      usage?: { input_tokens: number; output_tokens: number; cache_creation_input_tokens?: number; cache_read_input_tokens?: number };
      delayMs?: number;
      /** Answer once this settles (the test decides when the call ends). */
      after?: Promise<unknown>;
    }
  | { status: number; errorType: string; message?: string; headers?: Record<string, string> }
  /** A body as is: malformed JSON, or a JSON value that is no Message. */
  | { raw: string; status?: number; contentType?: string }
  | { hang: true };

export interface RecordedAnthropicRequest {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface AnthropicMessagesServer {
  /** What a client's base URL is (the SDK adds /v1/messages). */
  readonly baseUrl: string;
  readonly requests: RecordedAnthropicRequest[];
  script(...answers: AnthropicAnswer[]): void;
  close(): Promise<void>;
}

export async function startAnthropicMessagesServer(options: { apiKey?: string; models?: readonly string[]; answers?: AnthropicAnswer[] } = {}): Promise<AnthropicMessagesServer> {
  let answers: AnthropicAnswer[] = options.answers ?? [{ text: 'ok' }];
  const requests: RecordedAnthropicRequest[] = [];
  const hanging = new Set<() => void>();
  let served = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const requestId = `req_test_${++served}`;
      const error = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
        res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId }));
      };
      const path = (req.url ?? '').split('?')[0];
      const isMessages = req.method === 'POST' && path === '/v1/messages';
      let body: Record<string, unknown> | undefined;
      try {
        body = isMessages ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      } catch {
        // refused below
      }
      if (isMessages) requests.push({ url: req.url ?? '', headers: req.headers, body: body ?? {} });
      if (options.apiKey !== undefined && keyOf(req.headers) !== options.apiKey) return error(401, 'authentication_error', 'invalid x-api-key');
      if (req.method === 'GET' && path === '/v1/models') {
        const ids = options.models ?? [];
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
        res.end(
          JSON.stringify({
            data: ids.map((id) => ({ type: 'model', id, display_name: id, created_at: '2026-01-01T00:00:00Z' })),
            has_more: false,
            first_id: ids[0] ?? null,
            last_id: ids.at(-1) ?? null,
          }),
        );
        return;
      }
      if (!isMessages) return error(404, 'not_found_error', `no route ${req.method} ${path}`);
      if (!req.headers['anthropic-version']) return error(400, 'invalid_request_error', 'anthropic-version: header is required');
      if (body === undefined) return error(400, 'invalid_request_error', 'The request body is not valid JSON');
      if (typeof body.model !== 'string') return error(400, 'invalid_request_error', 'model: Field required');
      if (!Number.isInteger(body.max_tokens)) return error(400, 'invalid_request_error', 'max_tokens: Field required');
      if (!Array.isArray(body.messages)) return error(400, 'invalid_request_error', 'messages: Field required');
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      if ('hang' in answer) {
        hanging.add(() => res.destroy());
        return;
      }
      if ('errorType' in answer) return error(answer.status, answer.errorType, answer.message ?? `scripted ${answer.status}`, answer.headers);
      if ('raw' in answer) {
        res.writeHead(answer.status ?? 200, { 'content-type': answer.contentType ?? 'application/json', 'request-id': requestId });
        res.end(answer.raw);
        return;
      }
      const usage = answer.usage ?? { input_tokens: 13, output_tokens: 5 };
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
        res.end(
          JSON.stringify({
            id: `msg_test_${served}`,
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [{ type: 'text', text: answer.text }],
            stop_reason: answer.stopReason ?? 'end_turn',
            stop_sequence: null,
            usage: { cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard', ...usage },
          }),
        );
      };
      if (answer.after) void answer.after.then(send, send);
      else if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    script(...next) {
      answers = next;
    },
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The API key a request carries: the documented `x-api-key`, or `Authorization: Bearer` (what the SDK sends). */
export function keyOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  const authorization = headers.authorization;
  return authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
}
