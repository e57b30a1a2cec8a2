import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

describeEachDriver("a run's usage (SPEC §16)", (ctx) => {
  it('sums the tokens of every call by provider and model: retried tries, truncated replies and a retried step included', async () => {
    const llm = await startChatCompletionsServer(
      { status: 429, headers: { 'retry-after': '0' } },
      { reply: 'assumptions', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
      { reply: 'cut', finishReason: 'length', usage: { prompt_tokens: 5, completion_tokens: 50, total_tokens: 55 } },
      { reply: 'memo', usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } },
    );
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, {
        name: 'usage',
        steps: [
          { key: 'A', prompt: 'List the assumptions.', model: 'openai:small' },
          { key: 'B', depends_on: ['A'], prompt: 'Check {{steps.A.output}}.' },
          { key: 'C', depends_on: ['B'], prompt: 'Write the memo.', model: 'openai:large' },
        ],
      });
      const failed = await startRun(app, manifestId);
      expect(failed.status).toBe('error');
      expect(stepOf(failed, 'C')!.error).toMatchObject({ kind: 'truncated' });
      const offline = { provider: 'offline', model: 'echo', calls: 1, tries: 1, calls_without_usage: 0 };
      expect(failed.usage).toEqual({
        calls: 3,
        tries: 4,
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
        total_tokens: expect.any(Number),
        calls_without_usage: 0,
        by_model: [
          expect.objectContaining(offline),
          { provider: 'openai', model: 'large', calls: 1, tries: 1, prompt_tokens: 5, completion_tokens: 50, total_tokens: 55, calls_without_usage: 0 },
          { provider: 'openai', model: 'small', calls: 1, tries: 2, prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, calls_without_usage: 0 },
        ],
      });
      const offlineRow = failed.usage!.by_model[0]!;
      expect(failed.usage!.prompt_tokens).toBe(8 + offlineRow.prompt_tokens);
      expect(failed.usage!.completion_tokens).toBe(52 + offlineRow.completion_tokens);
      expect(failed.usage!.total_tokens).toBe(60 + offlineRow.total_tokens);

      const retried = (await app.inject({ method: 'POST', url: `/api/runs/${failed.id}/retry` })).json();
      expect(retried.status).toBe('success');
      expect(retried.usage.by_model.find((m: { model: string }) => m.model === 'large')).toEqual({
        provider: 'openai',
        model: 'large',
        calls: 2,
        tries: 2,
        prompt_tokens: 9,
        completion_tokens: 51,
        total_tokens: 60,
        calls_without_usage: 0,
      });
      const shown = (await app.inject({ method: 'GET', url: `/api/runs/${failed.id}` })).json();
      expect(shown.usage).toEqual(retried.usage);
      const listed = (await app.inject({ method: 'GET', url: '/api/runs' })).json();
      expect(listed.items[0]).not.toHaveProperty('usage');
    } finally {
      await llm.close();
    }
  });

  it('is zero for a run that made no call yet, and counts a call without reported usage apart', async () => {
    const llm = await startChatCompletionsServer({ reply: 'ok' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const waits = await storeManifest(app, {
        name: 'waits-first',
        steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: [], verification: 'operator_attest' } }],
      });
      const waiting = await startRun(app, waits);
      expect(waiting.usage).toEqual({ calls: 0, tries: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, calls_without_usage: 0, by_model: [] });
      // A server that reports no usage: the call counts, its tokens are unknown.
      const quiet = await startChatCompletionsServer({ reply: 'ok', usage: null });
      try {
        const silentApp = await testApp(ctx.database, { openaiBaseUrl: quiet.baseUrl });
        const id = await storeManifest(silentApp, { name: 'no-usage', steps: [{ key: 'A', prompt: 'hi', model: 'openai:m' }] });
        const run = await startRun(silentApp, id);
        expect(run.usage).toEqual({
          calls: 1,
          tries: 1,
          prompt_tokens: 0,
          completion_tokens: 0,
          total_tokens: 0,
          calls_without_usage: 1,
          by_model: [{ provider: 'openai', model: 'm', calls: 1, tries: 1, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, calls_without_usage: 1 }],
        });
      } finally {
        await quiet.close();
      }
    } finally {
      await llm.close();
    }
  });
});
