import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible chat-completions server that answers each call after a real
 * latency taken from the model name — `lat-200` answers in 200 ms, `fail-50` answers HTTP 400
 * after 50 ms, `flaky-50` fails like `fail-50` until `heal()` and then answers like `lat-50`,
 * `gate` answers once `openGate()` is called, `hold` never answers (until its client goes
 * away); a prompt holding `#flaky` fails like `flaky-N` whatever the model, one holding
 * `#slow` answers 200 ms later — so that a run's wall time,
 * its calls and how many of them overlapped are measured at the protocol level, as a user's
 * provider would see them. The reply is `<prompt> ✓`. Used by the tests of concurrent steps
 * and by the benchmark (`openai:lat-200`).
 */
export interface LatencyCall {
  readonly model: string;
  /** The last user message: the rendered prompt. */
  readonly prompt: string;
  /** The system message, when the request had one. */
  readonly system: string | undefined;
  readonly startedAt: number;
  endedAt: number | undefined;
  /** Whether the client closed the connection before the answer was sent (an aborted call). */
  abandoned: boolean;
}

export interface LatencyLlm {
  readonly baseUrl: string;
  readonly calls: readonly LatencyCall[];
  /** The most calls in flight at once since the start (or the last `reset()`). */
  readonly peakInFlight: number;
  readonly inFlight: number;
  /** Settles once `n` calls are in flight at the same time. */
  inFlightReaches(n: number): Promise<void>;
  /** Settles once no call is in flight (answered, or its client gone). */
  idle(): Promise<void>;
  /** Settles once a call whose prompt matches has arrived (at once if one already has). */
  arrival(matches: (prompt: string) => boolean): Promise<LatencyCall>;
  /** `flaky-N` calls answer from now on. */
  heal(): void;
  /** `gate` calls waiting now, and those to come, answer. */
  openGate(): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startLatencyLlm(): Promise<LatencyLlm> {
  const calls: LatencyCall[] = [];
  let inFlight = 0;
  let peak = 0;
  const open = new Set<ServerResponse>();
  const watchers: Array<{ done: () => boolean; resolve: () => void }> = [];
  let healed = false;
  let gateOpen = false;
  const atGate: Array<() => void> = [];
  const notify = () => {
    for (const watcher of watchers.filter((w) => w.done())) {
      watchers.splice(watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: Array<{ role: string; content: string }> };
      const prompt = [...body.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const call: LatencyCall = {
        model: body.model,
        prompt,
        system: body.messages.find((m) => m.role === 'system')?.content,
        startedAt: performance.now(),
        endedAt: undefined,
        abandoned: false,
      };
      calls.push(call);
      inFlight++;
      peak = Math.max(peak, inFlight);
      open.add(res);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        inFlight--;
        call.endedAt = performance.now();
        open.delete(res);
        notify();
      };
      res.on('close', () => {
        if (!res.writableEnded) call.abandoned = true;
        end();
      });
      notify();
      const [, kind, ms] = /^(lat|fail|flaky)-(\d+)$/.exec(body.model) ?? (body.model === 'gate' ? [, 'gate', '0'] : []);
      if (!kind) return; // `hold` (or any other name): no answer until the client goes away
      const answer = () => {
        if (res.destroyed) return;
        if (kind === 'fail' || ((kind === 'flaky' || prompt.includes('#flaky')) && !healed)) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `${body.model} fails by design`, type: 'invalid_request_error' } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${calls.length}`,
            object: 'chat.completion',
            created: 1_700_000_000,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: `${prompt} ✓` }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
      };
      if (kind === 'gate' && !gateOpen) atGate.push(answer);
      else setTimeout(answer, Number(ms) + (prompt.includes('#slow') ? 200 : 0));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const waitFor = (done: () => boolean) => (done() ? Promise.resolve() : new Promise<void>((resolve) => watchers.push({ done, resolve })));
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    get peakInFlight() {
      return peak;
    },
    get inFlight() {
      return inFlight;
    },
    inFlightReaches: (n) => waitFor(() => inFlight >= n),
    idle: () => waitFor(() => inFlight === 0),
    async arrival(matches) {
      await waitFor(() => calls.some((c) => matches(c.prompt)));
      return calls.find((c) => matches(c.prompt))!;
    },
    heal() {
      healed = true;
    },
    openGate() {
      gateOpen = true;
      for (const answer of atGate.splice(0)) answer();
    },
    reset() {
      calls.length = 0;
      peak = inFlight;
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
