import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the OpenAI chat-completions protocol, so that tests exercise
 * the real client over a real socket. Each `POST /v1/chat/completions` takes the next
 * scripted answer (the last one repeats) and is recorded with its body, so calls are
 * counted at the protocol level. `GET /v1/models` answers 404 (a server that cannot list
 * its models) until `serveModels([...])` gives it a list; those requests are counted in
 * `modelListings`, not in `requests`.
 */
export type ScriptedAnswer =
  | {
      reply: string;
      /** Default 11 → 7 tokens; null sends no usage (a server that reports none). */
      usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
      delayMs?: number;
      /** Answer once this settles: the test decides when the call ends (say, after a cancel). */
      after?: Promise<unknown>;
      /** Default `stop`; `length` is a reply cut off at max_tokens. */
      finishReason?: 'stop' | 'length';
    }
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { hang: true };

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface ChatCompletionsServer {
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** How many times `GET /v1/models` was asked. */
  readonly modelListings: number;
  script(...answers: ScriptedAnswer[]): void;
  /** Serve these model ids at `GET /v1/models`; `undefined` answers 404 again. */
  serveModels(ids: readonly string[] | undefined): void;
  close(): Promise<void>;
}

export async function startChatCompletionsServer(...initial: ScriptedAnswer[]): Promise<ChatCompletionsServer> {
  let answers: ScriptedAnswer[] = initial.length > 0 ? initial : [{ reply: 'ok' }];
  const requests: RecordedRequest[] = [];
  let models: readonly string[] | undefined;
  let modelListings = 0;
  const hanging = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        modelListings++;
        res.writeHead(models ? 200 : 404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            models
              ? { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'test' })) }
              : { error: { message: 'Not Found', type: 'not_found_error' } },
          ),
        );
        return;
      }
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      if ('hang' in answer) {
        hanging.add(() => res.destroy());
        return;
      }
      if ('status' in answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body ?? { error: { message: `scripted ${answer.status}`, type: 'test' } }));
        return;
      }
      const usage = answer.usage === null ? undefined : (answer.usage ?? { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${requests.length}`,
            object: 'chat.completion',
            created: 1_700_000_000,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: answer.reply }, finish_reason: answer.finishReason ?? 'stop' }],
            usage,
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
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get modelListings() {
      return modelListings;
    },
    script(...next) {
      answers = next;
    },
    serveModels(ids) {
      models = ids;
    },
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
