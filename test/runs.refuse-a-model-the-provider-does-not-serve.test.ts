import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { snapshot, startRun, storeManifest } from './support/runs.js';

const manifest = {
  name: 'models',
  steps: [
    { key: 'draft', prompt: 'draft it', model: 'openai:llama-3.2' },
    { key: 'polish', depends_on: ['draft'], prompt: 'polish {{steps.draft.output}}' },
    { key: 'check', depends_on: ['polish'], prompt: 'check it', model: 'openai:qwen-2.5' },
  ],
};

describeEachDriver('model names at run start', (ctx) => {
  it('refuses a run whose steps name models the provider does not list, with 422 and nothing stored', async () => {
    const llm = await startChatCompletionsServer({ reply: 'ok' });
    llm.serveModels(['qwen-2.5', 'mistral-7b', 'phi-4', 'gemma-3', 'granite-3', 'olmo-2']);
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, defaultModel: 'openai:gpt-4o' });
      const manifestId = await storeManifest(app, manifest);
      const before = await snapshot(ctx.database);
      const response = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } });
      expect(response.statusCode).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      expect(problem.code).toBe('MODEL_UNKNOWN');
      expect(problem.errors).toEqual([
        { path: 'steps.draft.model', message: expect.stringContaining('step "draft" uses model "openai:llama-3.2", which openai does not serve (it serves "qwen-2.5", "mistral-7b", "phi-4", "gemma-3", "granite-3" and 1 more)') },
        { path: 'steps.polish.model', message: expect.stringContaining('step "polish" uses model "openai:gpt-4o"') },
      ]);
      expect(problem.detail).toMatch(/2 steps name models the provider does not serve/);
      expect(await snapshot(ctx.database)).toEqual(before);
      expect(llm.requests).toHaveLength(0);
    } finally {
      await llm.close();
    }
  });

  it('runs when every model is listed, asking for the list once per process', async () => {
    const llm = await startChatCompletionsServer({ reply: 'ok' });
    llm.serveModels(['llama-3.2', 'qwen-2.5']);
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, defaultModel: 'openai:qwen-2.5' });
      const manifestId = await storeManifest(app, manifest);
      expect((await startRun(app, manifestId)).status).toBe('success');
      expect((await startRun(app, manifestId)).status).toBe('success');
      expect(llm.modelListings).toBe(1);
      expect(llm.requests).toHaveLength(6);
    } finally {
      await llm.close();
    }
  });

  it('does not check when the provider cannot list its models (404) or is not used', async () => {
    const llm = await startChatCompletionsServer({ reply: 'ok' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, defaultModel: 'openai:anything' });
      const manifestId = await storeManifest(app, manifest);
      expect((await startRun(app, manifestId)).status).toBe('success');
      expect(llm.modelListings).toBe(1);

      const offline = await storeManifest(app, { name: 'offline-only', steps: [{ key: 'A', prompt: 'hi', model: 'offline:echo' }] });
      expect((await startRun(app, offline)).status).toBe('success');
      expect(llm.modelListings).toBe(1);
    } finally {
      await llm.close();
    }
  });
});
