import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the OpenAI chat-completions protocol, so that tests exercise
 * the real client over a real socket. Each request takes the next scripted answer (the last
 * one repeats); every request is recorded, so calls are counted at the protocol level.
 */
export type ScriptedAnswer =
  | { reply: string; usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; delayMs?: number }
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
  script(...answers: ScriptedAnswer[]): void;
  close(): Promise<void>;
}

export async function startChatCompletionsServer(...initial: ScriptedAnswer[]): Promise<ChatCompletionsServer> {
  let answers: ScriptedAnswer[] = initial.length > 0 ? initial : [{ reply: 'ok' }];
  const requests: RecordedRequest[] = [];
  const hanging = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
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
      const usage = answer.usage ?? { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
      const send = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${requests.length}`,
          object: 'chat.completion',
          created: 1_700_000_000,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: answer.reply }, finish_reason: 'stop' }],
          usage,
        }),
      );
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
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
