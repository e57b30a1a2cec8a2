import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmCallError, type LlmRequest } from '../src/core/llm.js';
import { openAiProvider } from '../src/providers/llm/openai.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

const closedSchema = {
  type: 'object',
  properties: { score: { type: 'number' }, tags: { type: 'array', items: { type: 'object', properties: { t: { type: 'string' } }, required: ['t'], additionalProperties: false } } },
  required: ['score', 'tags'],
  additionalProperties: false,
};
const openSchema = { type: 'object', properties: { score: { type: 'number' } }, required: ['score'] };

const ask = (output: LlmRequest['output'], params: Record<string, unknown> = {}): LlmRequest => ({
  stepKey: 'score-it',
  model: 'gpt-test',
  messages: [{ role: 'user', content: 'Score it.' }],
  params,
  output,
});

describe('the openai provider asks for the output the step declares', () => {
  let server: ChatCompletionsServer;
  beforeEach(async () => {
    server = await startChatCompletionsServer({ reply: '{"score": 1, "tags": []}' });
  });
  afterEach(async () => {
    await server.close();
  });
  const provider = () => openAiProvider({ baseUrl: server.baseUrl, apiKey: undefined, timeoutMs: 5_000, maxTries: 1 });

  it('sends json_schema named after the step, strict when every object is closed and fully required', async () => {
    await provider().complete(ask({ format: 'json', schema: closedSchema }));
    expect(server.requests[0]!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'score-it', schema: closedSchema, strict: true } });
  });

  it('sends json_schema without strict when the schema is looser than strict mode allows', async () => {
    await provider().complete(ask({ format: 'json', schema: openSchema }));
    await provider().complete(ask({ format: 'json', schema: { type: 'array', items: { type: 'number' } } }));
    expect(server.requests.map((r) => r.body.response_format)).toEqual([
      { type: 'json_schema', json_schema: { name: 'score-it', schema: openSchema, strict: false } },
      { type: 'json_schema', json_schema: { name: 'score-it', schema: { type: 'array', items: { type: 'number' } }, strict: false } },
    ]);
  });

  it('sends json_object for format json without a schema, and nothing for text', async () => {
    await provider().complete(ask({ format: 'json' }));
    await provider().complete(ask({ format: 'text' }));
    expect(server.requests[0]!.body.response_format).toEqual({ type: 'json_object' });
    expect(server.requests[1]!.body).not.toHaveProperty('response_format');
  });

  it("lets a response_format in the step's params win", async () => {
    const own = { type: 'json_object' };
    await provider().complete(ask({ format: 'json', schema: closedSchema }, { response_format: own }));
    expect(server.requests[0]!.body.response_format).toEqual(own);
  });

  it('refuses a reply cut off at max_tokens, with the reply and its usage kept as evidence', async () => {
    server.script({ reply: '{"score": 1, "ta', finishReason: 'length', usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 } });
    let error: unknown;
    await provider()
      .complete(ask({ format: 'json' }, { max_tokens: 8 }))
      .catch((err: unknown) => (error = err));
    expect(error).toBeInstanceOf(LlmCallError);
    const failure = error as LlmCallError;
    expect(failure.kind).toBe('truncated');
    expect(failure.message).toMatch(/^the reply was cut off at max_tokens \(8\) \(finish_reason: length\) after 8 tokens/);
    expect(failure.usage).toEqual({ prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 });
    expect(failure.responseBody).toMatchObject({ choices: [{ finish_reason: 'length' }] });
    expect(server.requests).toHaveLength(1); // never retried: the same request would be cut off again
  });
});

describeEachDriver('a task step against an OpenAI-compatible server', (ctx) => {
  it('fails the step with a clear error when the reply was cut off, instead of parsing it', async () => {
    const llm = await startChatCompletionsServer({ reply: 'The score is {"score": 1}', finishReason: 'length' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, { name: 'cut-off', steps: [{ key: 'A', prompt: 'score it', model: 'openai:m', params: { max_tokens: 7 }, output: { format: 'json' } }] });
      const run = await startRun(app, manifestId);
      expect(run.status).toBe('error');
      const a = stepOf(run, 'A')!;
      expect(a).toMatchObject({ status: 'FAIL', output: null, error: { kind: 'truncated' } });
      expect((a.error as { message: string }).message).toMatch(/the reply was cut off at max_tokens \(7\)/);
      const detail = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${a.id}` })).json();
      expect(detail.artifacts.llm_calls).toEqual([expect.objectContaining({ usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }, error: expect.objectContaining({ kind: 'truncated' }) })]);
      expect(detail.artifacts.parsed_outputs).toEqual([]);
    } finally {
      await llm.close();
    }
  });

  it('takes the JSON out of a think-wrapped reply, and fails clearly on a reply with two values', async () => {
    const llm = await startChatCompletionsServer(
      { reply: '<think>The user wants {"score": 0}? No, a real score.</think>\nHere: {"score": 0.7}' },
      { reply: 'Either {"score": 1} or {"score": 2}.' },
    );
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const schema = { type: 'object', properties: { score: { type: 'number' } }, required: ['score'] };
      const manifestId = await storeManifest(app, { name: 'wrapped', steps: [{ key: 'A', prompt: 'score it', model: 'openai:m', output: { format: 'json', schema } }] });
      const wrapped = await startRun(app, manifestId);
      expect(wrapped.status).toBe('success');
      expect(stepOf(wrapped, 'A')!.output).toEqual({ score: 0.7 });
      expect(llm.requests[0]!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'A', schema, strict: false } });

      const ambiguous = await startRun(app, manifestId);
      expect(ambiguous.status).toBe('error');
      expect((stepOf(ambiguous, 'A')!.error as { message: string }).message).toMatch(/holds 2 JSON values in its text; expected exactly one/);
    } finally {
      await llm.close();
    }
  });
});
