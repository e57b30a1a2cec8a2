import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmCallError, type LlmRequest } from '../src/core/llm.js';
import { anthropicProvider, DEFAULT_ANTHROPIC_MAX_TOKENS } from '../src/providers/llm/anthropic.js';
import { keyOf, startAnthropicMessagesServer, type AnthropicMessagesServer } from './support/anthropic-messages-server.js';

const KEY = 'sk-ant-test-protocol-key';

const ask = (overrides: Partial<LlmRequest> = {}): LlmRequest => ({
  stepKey: 'memo',
  model: 'claude-test',
  messages: [
    { role: 'system', content: 'You write short memos.' },
    { role: 'user', content: 'Write the memo.' },
  ],
  params: {},
  output: { format: 'text' },
  ...overrides,
});

async function failure(promise: Promise<unknown>): Promise<LlmCallError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof LlmCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('the anthropic provider against a server speaking the Messages API', () => {
  let server: AnthropicMessagesServer;
  beforeEach(async () => {
    server = await startAnthropicMessagesServer({ apiKey: KEY, models: ['claude-test-20260101', 'claude-other-20260101'] });
  });
  afterEach(async () => {
    await server.close();
  });
  const provider = (overrides: { timeoutMs?: number; maxTries?: number; apiKey?: string | undefined } = {}) =>
    anthropicProvider({
      baseUrl: server.baseUrl,
      apiKey: 'apiKey' in overrides ? overrides.apiKey : KEY,
      timeoutMs: overrides.timeoutMs ?? 5_000,
      maxTries: overrides.maxTries ?? 3,
      backoffMs: 5,
    });

  it('sends the system prompt at the top level, max_tokens by default, the key and the API version, and records the exchange as the API saw it', async () => {
    server.script({ text: 'Dear team,', usage: { input_tokens: 20, output_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 } });
    const reply = await provider().complete(ask({ params: { stop_sequences: ['END'] } }));
    expect(reply.text).toBe('Dear team,');
    expect(reply.tries).toBe(1);
    // Input tokens read from and written to the prompt cache are input tokens too.
    expect(reply.usage).toEqual({ prompt_tokens: 25, completion_tokens: 4, total_tokens: 29 });
    const [sent] = server.requests;
    expect(sent!.url).toBe('/v1/messages');
    expect(keyOf(sent!.headers)).toBe(KEY);
    expect(sent!.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(sent!.body).toEqual({
      model: 'claude-test',
      max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
      system: 'You write short memos.',
      messages: [{ role: 'user', content: 'Write the memo.' }],
      stop_sequences: ['END'],
    });
    expect(reply.requestBody).toEqual(sent!.body);
    expect(reply.responseBody).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Dear team,' }], stop_reason: 'end_turn' });
  });

  it("takes max_tokens from the step's params, and sends no system field for a step without one", async () => {
    await provider().complete(ask({ messages: [{ role: 'user', content: 'Hi.' }], params: { max_tokens: 77 } }));
    expect(server.requests[0]!.body).toEqual({ model: 'claude-test', max_tokens: 77, messages: [{ role: 'user', content: 'Hi.' }] });
  });

  it("enforces a JSON schema through the API's structured output, and reads the JSON text back", async () => {
    const schema = { type: 'object', properties: { score: { type: 'integer', minimum: 1 } }, required: ['score'] };
    server.script({ text: '{"score": 4}' });
    const reply = await provider().complete(ask({ output: { format: 'json', schema } }));
    expect(reply.text).toBe('{"score": 4}');
    const sent = server.requests[0]!.body;
    expect(sent).not.toHaveProperty('tools');
    // The SDK's helper closes every object and moves what the API does not enforce into descriptions.
    expect(sent.output_config).toEqual({
      format: {
        type: 'json_schema',
        schema: { type: 'object', properties: { score: { type: 'integer', description: '{minimum: 1}' } }, additionalProperties: false, required: ['score'] },
      },
    });
  });

  it('sends a schema without an object at its root as the one property of an object, and unwraps the reply', async () => {
    const schema = { type: 'array', items: { type: 'string' } };
    server.script({ text: '{"value": ["a", "b"]}' });
    const reply = await provider().complete(ask({ output: { format: 'json', schema } }));
    expect(JSON.parse(reply.text)).toEqual(['a', 'b']);
    expect(server.requests[0]!.body.output_config).toEqual({
      format: { type: 'json_schema', schema: { type: 'object', properties: { value: { type: 'array', items: { type: 'string' } } }, additionalProperties: false, required: ['value'] } },
    });
    expect(reply.responseBody).toMatchObject({ content: [{ text: '{"value": ["a", "b"]}' }] });
  });

  it("keeps the step's own output_config next to the format, and asks nothing special for JSON without a schema", async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
    server.script({ text: '{"ok": true}' });
    await provider().complete(ask({ output: { format: 'json', schema }, params: { output_config: { effort: 'low' } } }));
    await provider().complete(ask({ output: { format: 'json' } }));
    expect(server.requests[0]!.body.output_config).toEqual({ format: { type: 'json_schema', schema }, effort: 'low' });
    expect(server.requests[1]!.body).not.toHaveProperty('output_config');
  });

  it('fails a reply that stopped at max_tokens as truncated, with its usage and the reply as evidence', async () => {
    server.script({ text: 'Dear te', stopReason: 'max_tokens', usage: { input_tokens: 9, output_tokens: 16 } });
    const err = await failure(provider().complete(ask({ params: { max_tokens: 16 } })));
    expect(err.kind).toBe('truncated');
    expect(err.message).toContain('max_tokens (16)');
    expect(err.message).toContain('stop_reason: max_tokens');
    expect(err.tries).toBe(1);
    expect(err.usage).toEqual({ prompt_tokens: 9, completion_tokens: 16, total_tokens: 25 });
    expect(err.responseBody).toMatchObject({ stop_reason: 'max_tokens', content: [{ text: 'Dear te' }] });
    expect(server.requests).toHaveLength(1);
  });

  it('never retries a 401, and keeps the API error envelope as evidence, without the key', async () => {
    const err = await failure(provider({ apiKey: 'sk-ant-wrong' }).complete(ask()));
    expect(err.kind).toBe('http');
    expect(err.status).toBe(401);
    expect(err.tries).toBe(1);
    expect(err.responseBody).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_test_1' });
    expect(err.message).toContain('invalid x-api-key');
    expect(JSON.stringify({ message: err.message, request: err.requestBody, response: err.responseBody })).not.toContain('sk-ant-wrong');
    expect(server.requests).toHaveLength(1);
  });

  it('never retries another 4xx', async () => {
    server.script({ status: 400, errorType: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' });
    const err = await failure(provider().complete(ask({ params: { temperature: 0 } })));
    expect(err).toMatchObject({ kind: 'http', status: 400, tries: 1 });
    expect(err.message).toContain('temperature: Extra inputs are not permitted');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 429 after the Retry-After it gives, then succeeds', async () => {
    server.script({ status: 429, errorType: 'rate_limit_error', headers: { 'retry-after': '1' } }, { text: 'after the limit' });
    const began = Date.now();
    const reply = await provider().complete(ask());
    expect(Date.now() - began).toBeGreaterThanOrEqual(950);
    expect(reply.text).toBe('after the limit');
    expect(reply.tries).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it('retries 529 (overloaded) and 500, and gives up after the last try with the status recorded', async () => {
    server.script({ status: 529, errorType: 'overloaded_error', message: 'Overloaded' }, { status: 500, errorType: 'api_error' }, { text: 'third time' });
    expect((await provider().complete(ask())).tries).toBe(3);
    server.script({ status: 529, errorType: 'overloaded_error', message: 'Overloaded' });
    const err = await failure(provider({ maxTries: 2 }).complete(ask()));
    expect(err).toMatchObject({ kind: 'http', status: 529, tries: 2, responseBody: { error: { type: 'overloaded_error' } } });
    expect(server.requests).toHaveLength(5);
  });

  it('fails at once on a body that is not JSON, keeping the body as evidence', async () => {
    server.script({ raw: '{"type": "message", "content": [', contentType: 'application/json' });
    const err = await failure(provider().complete(ask()));
    expect(err.kind).toBe('provider');
    expect(err.tries).toBe(1);
    expect(err.message).toContain('not JSON');
    expect(err.responseBody).toEqual({ status: 200, content_type: 'application/json', body: '{"type": "message", "content": [' });
    expect(server.requests).toHaveLength(1);
  });

  it('fails at once on JSON that is not a message, and on a refusal', async () => {
    server.script({ raw: '{"hello": "world"}' });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: 'provider', tries: 1, responseBody: { hello: 'world' } });
    server.script({ text: '', stopReason: 'refusal' });
    const refused = await failure(provider().complete(ask()));
    expect(refused).toMatchObject({ kind: 'provider', tries: 1 });
    expect(refused.message).toContain('stop_reason: refusal');
  });

  it('times out a request that gets no answer, and retries it', async () => {
    server.script({ hang: true });
    const err = await failure(provider({ timeoutMs: 200, maxTries: 2 }).complete(ask()));
    expect(err.kind).toBe('timeout');
    expect(err.tries).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it('stops a call in flight, and a backoff wait, when the signal aborts', async () => {
    server.script({ hang: true });
    const inFlight = new AbortController();
    const pending = failure(provider().complete(ask(), { signal: inFlight.signal }));
    await until(() => server.requests.length === 1);
    inFlight.abort();
    expect(await pending).toMatchObject({ kind: 'aborted', tries: 1 });

    server.script({ status: 429, errorType: 'rate_limit_error', headers: { 'retry-after': '30' } });
    const waiting = new AbortController();
    const began = Date.now();
    const backingOff = failure(provider().complete(ask(), { signal: waiting.signal }));
    await until(() => server.requests.length === 2);
    waiting.abort();
    expect(await backingOff).toMatchObject({ kind: 'aborted', tries: 1 });
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(2);
  });

  it('lists the models the server has, and names its kind, base URL and key variable without the key', async () => {
    const listed = anthropicProvider({ name: 'claude', baseUrl: server.baseUrl, apiKey: KEY, apiKeyEnv: 'CLAUDE_KEY', timeoutMs: 5_000, maxTries: 1, maxConcurrency: 3 });
    expect(await listed.listModels!()).toEqual(['claude-test-20260101', 'claude-other-20260101']);
    expect(listed).toMatchObject({ name: 'claude', maxConcurrency: 3, info: { kind: 'anthropic', baseUrl: server.baseUrl, apiKeyEnv: 'CLAUDE_KEY', keySet: true } });
    expect(JSON.stringify(listed.info)).not.toContain(KEY);
    // Dated ids are no reason to refuse an alias: nothing is checked before a run.
    expect(listed.knownModels).toBeUndefined();
  });

  it("uses the key it is given and no other: never ANTHROPIC_API_KEY from the environment", async () => {
    const saved = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = KEY;
    try {
      const err = await failure(provider({ apiKey: undefined }).complete(ask()));
      expect(err.status).toBe(401);
      expect(keyOf(server.requests[0]!.headers)).not.toBe(KEY);
    } finally {
      if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved;
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('timed out waiting');
}
