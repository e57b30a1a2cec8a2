import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible chat-completions server whose answers the test decides, request
 * by request, from the prompt: answer at once, after a delay, when a promise settles, or
 * never (`hold`: the request stays open until its client goes away — say, the process that
 * sent it was killed). Every request is recorded with its prompt, so LLM calls are counted
 * at the protocol level, per step and run, and a test can wait until a given call is in
 * flight.
 */
export type GatedAnswer = { readonly reply: string; readonly after?: Promise<unknown> } | { readonly hold: true };

export interface GatedRequest {
  /** The first message's content: the rendered prompt. */
  readonly prompt: string;
  readonly at: number;
  /** Whether the server has sent its answer. */
  answered: boolean;
  /** Whether the client closed the connection before an answer was sent. */
  abandoned: boolean;
}

export interface GatedLlm {
  readonly baseUrl: string;
  readonly requests: readonly GatedRequest[];
  /** How many requests had exactly this prompt. */
  count(prompt: string): number;
  /** Settles once a request whose prompt matches has arrived (at once if one already has). */
  arrival(matches: (prompt: string) => boolean): Promise<GatedRequest>;
  close(): Promise<void>;
}

export async function startGatedLlm(decide: (prompt: string, nth: number) => GatedAnswer): Promise<GatedLlm> {
  const requests: GatedRequest[] = [];
  const waiters: Array<{ matches: (prompt: string) => boolean; resolve: (request: GatedRequest) => void }> = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    // Only chat completions: GET /v1/models is a 404, like a server that cannot list its models
    // (so stepgate checks no model name against it).
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = raw ? (JSON.parse(raw) as { model?: string; messages?: Array<{ content: string }> }) : {};
      const prompt = body.messages?.[0]?.content ?? '';
      const nth = requests.filter((r) => r.prompt === prompt).length + 1;
      const request: GatedRequest = { prompt, at: Date.now(), answered: false, abandoned: false };
      requests.push(request);
      open.add(res);
      res.on('close', () => {
        open.delete(res);
        if (!request.answered) request.abandoned = true;
      });
      for (const waiter of waiters.filter((w) => w.matches(prompt))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(request);
      }
      const answer = decide(prompt, nth);
      if ('hold' in answer) return;
      const send = () => {
        if (res.destroyed) return;
        request.answered = true;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${requests.length}`,
            object: 'chat.completion',
            created: 1_700_000_000,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: answer.reply }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
          }),
        );
      };
      if (answer.after) void answer.after.then(send, send);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    count: (prompt) => requests.filter((r) => r.prompt === prompt).length,
    arrival(matches) {
      const seen = requests.find((r) => matches(r.prompt));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ matches, resolve }));
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
