import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmCallError, type LlmRequest } from '../src/core/llm.js';
import { openAiProvider } from '../src/providers/llm/openai.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

const request: LlmRequest = {
  stepKey: 'A',
  model: 'gpt-test',
  messages: [{ role: 'user', content: 'Say hi.' }],
  params: { temperature: 0.2, max_tokens: 50 },
  output: { format: 'text' },
};

async function failure(promise: Promise<unknown>): Promise<LlmCallError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof LlmCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('the openai provider against a chat-completions server', () => {
  let server: ChatCompletionsServer;
  beforeEach(async () => {
    server = await startChatCompletionsServer();
  });
  afterEach(async () => {
    await server.close();
  });
  const provider = (overrides: { timeoutMs?: number; maxTries?: number } = {}) =>
    openAiProvider({ baseUrl: server.baseUrl, apiKey: 'sk-test', timeoutMs: overrides.timeoutMs ?? 5_000, maxTries: overrides.maxTries ?? 3, backoffMs: 5 });

  it('sends the chat-completions request shape with the step params and records usage', async () => {
    server.script({ reply: 'Hi!', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    const reply = await provider().complete(request);
    expect(reply.text).toBe('Hi!');
    expect(reply.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(reply.tries).toBe(1);
    expect(server.requests).toHaveLength(1);
    const [sent] = server.requests;
    expect(sent!.method).toBe('POST');
    expect(sent!.url).toBe('/v1/chat/completions');
    expect(sent!.headers.authorization).toBe('Bearer sk-test');
    expect(sent!.body).toEqual({ model: 'gpt-test', messages: [{ role: 'user', content: 'Say hi.' }], temperature: 0.2, max_tokens: 50 });
    expect(reply.requestBody).toEqual(sent!.body);
  });

  it('retries a 429, honouring Retry-After, then succeeds', async () => {
    server.script({ status: 429, headers: { 'retry-after': '0' } }, { reply: 'after the limit' });
    const reply = await provider().complete(request);
    expect(reply.text).toBe('after the limit');
    expect(reply.tries).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it('waits as long as Retry-After says', async () => {
    server.script({ status: 503, headers: { 'retry-after': '1' } }, { reply: 'ok' });
    const began = Date.now();
    await provider().complete(request);
    expect(Date.now() - began).toBeGreaterThanOrEqual(950);
  });

  it('gives up after the last try of repeated 500s, with the status and the response recorded', async () => {
    server.script({ status: 500, body: { error: { message: 'boom', type: 'server_error' } } });
    const err = await failure(provider({ maxTries: 3 }).complete(request));
    expect(err.kind).toBe('http');
    expect(err.status).toBe(500);
    expect(err.tries).toBe(3);
    expect(err.responseBody).toMatchObject({ message: 'boom' });
    expect(server.requests).toHaveLength(3);
  });

  it('never retries a 400', async () => {
    server.script({ status: 400, body: { error: { message: 'bad model', type: 'invalid_request_error' } } });
    const err = await failure(provider().complete(request));
    expect(err.status).toBe(400);
    expect(err.tries).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it('times out a request that gets no answer, and retries it', async () => {
    server.script({ hang: true });
    const err = await failure(provider({ timeoutMs: 200, maxTries: 2 }).complete(request));
    expect(err.kind).toBe('timeout');
    expect(err.tries).toBe(2);
    expect(server.requests).toHaveLength(2);
  });
});

describeEachDriver('a task step whose provider keeps failing', (ctx) => {
  it('fails with the error and the evidence recorded, and ends the run in error', async () => {
    const server = await startChatCompletionsServer({ status: 500, body: { error: { message: 'overloaded', type: 'server_error' } } });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: server.baseUrl });
      const manifestId = await storeManifest(app, {
        name: 'failing',
        steps: [
          { key: 'A', prompt: 'hello', model: 'openai:gpt-test' },
          { key: 'B', depends_on: ['A'], prompt: 'never {{steps.A.output}}' },
        ],
      });
      const run = await startRun(app, manifestId);
      expect(run.status).toBe('error');
      expect(run.ended_at).not.toBeNull();
      expect(run.error).toMatchObject({ step_key: 'A' });
      const a = stepOf(run, 'A')!;
      expect(a).toMatchObject({ status: 'FAIL', output: null, error: { kind: 'http', status: 500 } });
      expect(a.ended_at).not.toBeNull();
      expect(stepOf(run, 'B')).toBeUndefined();
      expect(server.requests).toHaveLength(3);
      const detail = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${a.id}` })).json();
      expect(detail.artifacts.prompts).toHaveLength(1);
      expect(detail.artifacts.llm_calls).toEqual([expect.objectContaining({ tries: 3, response: expect.objectContaining({ message: 'overloaded' }), error: expect.objectContaining({ status: 500 }) })]);
      expect(detail.artifacts.parsed_outputs).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
