import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { startAnthropicMessagesServer } from './support/anthropic-messages-server.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

describeEachDriver('system prompts (SPEC §16)', (ctx) => {
  it('renders the system template like the prompt, sends it as the first message, and records it in the PromptArtifact', async () => {
    const llm = await startChatCompletionsServer({ reply: 'growth 3%' }, { reply: 'memo' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, {
        name: 'with-system',
        steps: [
          { key: 'A', model: 'openai:m', system: 'You are an analyst for {{inputs.region}}.', prompt: 'List the assumptions.' },
          { key: 'B', model: 'openai:m', depends_on: ['A'], system: 'Quote this: {{steps.A.output}}', prompt: 'Write the memo for {{inputs.region}}.' },
        ],
      });
      const manifest = (await app.inject({ method: 'GET', url: `/api/manifests/${manifestId}` })).json();
      expect(manifest.steps.map((s: { system: string | null }) => s.system)).toEqual(['You are an analyst for {{inputs.region}}.', 'Quote this: {{steps.A.output}}']);

      const run = await startRun(app, manifestId, { region: 'EMEA' });
      expect(run.status).toBe('success');
      expect(llm.requests.map((r) => r.body.messages)).toEqual([
        [
          { role: 'system', content: 'You are an analyst for EMEA.' },
          { role: 'user', content: 'List the assumptions.' },
        ],
        [
          { role: 'system', content: 'Quote this: growth 3%' },
          { role: 'user', content: 'Write the memo for EMEA.' },
        ],
      ]);
      const b = stepOf(run, 'B')!;
      const detail = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${b.id}` })).json();
      expect(detail.artifacts.prompts).toEqual([
        expect.objectContaining({
          template: 'Write the memo for {{inputs.region}}.',
          system_template: 'Quote this: {{steps.A.output}}',
          values: { 'steps.A.output': 'growth 3%', 'inputs.region': 'EMEA' },
          messages: [
            { role: 'system', content: 'Quote this: growth 3%' },
            { role: 'user', content: 'Write the memo for EMEA.' },
          ],
        }),
      ]);
      const [row] = await queryRows<{ system_template: string }>(ctx.database.db, sql`SELECT system_template FROM prompt_artifacts WHERE step_run_id = ${b.id}`);
      expect(row!.system_template).toBe('Quote this: {{steps.A.output}}');
    } finally {
      await llm.close();
    }
  });

  it('sends it to Anthropic as the top-level system, and a step without one sends none', async () => {
    const llm = await startAnthropicMessagesServer({ apiKey: 'test-key', answers: [{ text: 'Dear team,' }] });
    try {
      const app = await testApp(ctx.database, { anthropicBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, {
        name: 'anthropic-system',
        steps: [
          { key: 'A', model: 'anthropic:claude-test', system: 'Write for {{inputs.audience}}.', prompt: 'The memo.' },
          { key: 'B', model: 'anthropic:claude-test', depends_on: ['A'], prompt: 'Again: {{steps.A.output}}' },
        ],
      });
      const run = await startRun(app, manifestId, { audience: 'the board' });
      expect(run.status).toBe('success');
      expect(llm.requests[0]!.body).toMatchObject({ system: 'Write for the board.', messages: [{ role: 'user', content: 'The memo.' }] });
      expect(llm.requests[1]!.body).not.toHaveProperty('system');
      expect(llm.requests[1]!.body.messages).toEqual([{ role: 'user', content: 'Again: Dear team,' }]);
      const b = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}` })).json();
      expect(b.artifacts.prompts[0]).toMatchObject({ system_template: null, messages: [{ role: 'user', content: 'Again: Dear team,' }] });
    } finally {
      await llm.close();
    }
  });

  it('needs the inputs the system template uses before anything runs, and fails a step whose system prompt cannot be rendered', async () => {
    const app = await testApp(ctx.database);
    const needs = await storeManifest(app, { name: 'system-needs', steps: [{ key: 'A', system: 'For {{inputs.region}}.', prompt: 'go' }] });
    const refused = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: needs, inputs: {} } });
    expect(expectProblem(refused, 422, 'INPUTS_INVALID').errors).toEqual([{ path: 'inputs.region', message: expect.stringContaining('required by step "A"') }]);

    const strict = await storeManifest(app, {
      name: 'system-strict',
      steps: [
        { key: 'A', prompt: 'x', output: { format: 'json' } },
        { key: 'B', depends_on: ['A'], system: 'Use {{steps.A.output.missing_field}}', prompt: 'go' },
      ],
    });
    const run = await startRun(app, strict);
    expect(run.status).toBe('error');
    expect((stepOf(run, 'B')!.error as { message: string }).message).toMatch(/^the system prompt could not be rendered: .*missing_field/);
  });
});
