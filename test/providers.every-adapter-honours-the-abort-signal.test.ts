import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmCallError, type LlmProvider, type LlmRequest } from '../src/core/llm.js';
import type { ProviderSettings } from '../src/core/providers-file.js';
import { createPrometheusMetrics } from '../src/http/metrics.js';
import { meteredProviders } from '../src/providers/llm/metered.js';
import { createProviders } from '../src/providers/llm/registry.js';
import { startAnthropicMessagesServer, type AnthropicMessagesServer } from './support/anthropic-messages-server.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';

const request: LlmRequest = { stepKey: 'A', model: 'm', messages: [{ role: 'user', content: 'hi' }], params: {}, output: { format: 'text' } };

async function failure(promise: Promise<unknown>): Promise<LlmCallError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof LlmCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('timed out waiting');
}

/**
 * SPEC §15: a cancel aborts the LLM calls in flight. Every adapter, as the server composes it
 * (registry: key scrubbing; metered: /metrics), stops a call in flight and a backoff wait when
 * the signal aborts, with an LlmCallError of kind `aborted`, and makes no call once it is.
 */
describe('every provider honours the abort signal', () => {
  let chat: ChatCompletionsServer;
  let messages: AnthropicMessagesServer;
  let providers: ReadonlyMap<string, LlmProvider>;
  beforeAll(async () => {
    chat = await startChatCompletionsServer();
    messages = await startAnthropicMessagesServer({ apiKey: 'k' });
    const common = { apiKey: 'k', maxConcurrency: 16, timeoutMs: 30_000, maxTries: 3, definedAt: 'built in' };
    const settings: ProviderSettings[] = [
      { ...common, name: 'offline', kind: 'offline', baseUrl: null, apiKeyEnv: null, apiKey: undefined },
      { ...common, name: 'chat', kind: 'openai', baseUrl: chat.baseUrl, apiKeyEnv: 'K' },
      { ...common, name: 'claude', kind: 'anthropic', baseUrl: messages.baseUrl, apiKeyEnv: 'K' },
    ];
    providers = meteredProviders(createProviders(settings), createPrometheusMetrics());
  });
  afterAll(async () => {
    await Promise.all([chat.close(), messages.close()]);
  });

  it('makes no call when the signal has already aborted', async () => {
    const aborted = AbortSignal.abort();
    for (const name of ['offline', 'chat', 'claude']) {
      expect(await failure(providers.get(name)!.complete(request, { signal: aborted })), name).toMatchObject({ kind: 'aborted', tries: 0 });
    }
    expect(chat.requests).toHaveLength(0);
    expect(messages.requests).toHaveLength(0);
  });

  for (const [name, served] of [
    ['chat', () => chat] as const,
    ['claude', () => messages] as const,
  ]) {
    it(`${name}: stops the request in flight, and the wait before a retry`, async () => {
      const server = served();
      const before = server.requests.length;
      if (name === 'chat') chat.script({ hang: true });
      else messages.script({ hang: true });
      const inFlight = new AbortController();
      const hanging = failure(providers.get(name)!.complete(request, { signal: inFlight.signal }));
      await until(() => server.requests.length === before + 1);
      inFlight.abort();
      expect(await hanging).toMatchObject({ kind: 'aborted', tries: 1 });

      if (name === 'chat') chat.script({ status: 503, headers: { 'retry-after': '30' } });
      else messages.script({ status: 529, errorType: 'overloaded_error', headers: { 'retry-after': '30' } });
      const backingOff = new AbortController();
      const began = Date.now();
      const waiting = failure(providers.get(name)!.complete(request, { signal: backingOff.signal }));
      await until(() => server.requests.length === before + 2);
      backingOff.abort();
      expect(await waiting).toMatchObject({ kind: 'aborted', tries: 1 });
      expect(Date.now() - began).toBeLessThan(10_000);
      expect(server.requests).toHaveLength(before + 2);
    });
  }
});
