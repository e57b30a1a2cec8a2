import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { artifactCounts, startRun, stepOf, storeManifest } from './support/runs.js';

const abc = readFileSync(new URL('../examples/quarterly-forecast.yaml', import.meta.url), 'utf8');

describeEachDriver('a run of A (task) → B (compute) → C (task)', (ctx) => {
  let llm: ChatCompletionsServer;
  beforeEach(async () => {
    llm = await startChatCompletionsServer({ reply: 'Growth 3%; churn 2%.' });
  });
  afterEach(async () => {
    await llm.close();
  });

  it('runs A through an OpenAI-compatible server once, parks B, waits, and never starts C', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, abc.replace('model: offline:echo', 'model: openai:gpt-test'));
    const run = await startRun(app, manifestId, { region: 'EMEA' });

    expect(run.status).toBe('waiting');
    expect(run.ended_at).toBeNull();
    expect(run.step_runs.map((s) => [s.step_key, s.step_type, s.status])).toEqual([
      ['A', 'task', 'SUCCESS'],
      ['B', 'compute', 'WAITING_FOR_ATTESTATION'],
    ]);
    const a = stepOf(run, 'A')!;
    expect(a.output).toBe('Growth 3%; churn 2%.');
    expect(a.ended_at).not.toBeNull();
    const b = stepOf(run, 'B')!;
    expect(b.started_at).toMatch(/^\d{4}-/);
    expect(b.ended_at).toBeNull();
    expect(b.output).toBeNull();
    expect(run.waiting_on).toEqual([{ step_run_id: b.id, step_key: 'B' }]);
    expect(stepOf(run, 'C')).toBeUndefined();

    // Counted at the protocol server: one request, for A, with A's rendered prompt.
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.body).toMatchObject({ model: 'gpt-test', temperature: 0, messages: [{ role: 'user', content: 'List the assumptions for EMEA.' }] });

    expect(await artifactCounts(ctx.database, a.id)).toEqual({ prompts: 1, calls: 1, parsed: 1 });
    expect(await artifactCounts(ctx.database, b.id)).toEqual({ prompts: 0, calls: 0, parsed: 0 });
    const [row] = await queryRows<{ status: string; lease_owner: string | null; lease_expires_at: string | null }>(
      ctx.database.db,
      sql`SELECT status, lease_owner, lease_expires_at FROM dag_runs WHERE id = ${run.id}`,
    );
    expect(row).toEqual({ status: 'waiting', lease_owner: null, lease_expires_at: null });

    const shown = await app.inject({ method: 'GET', url: `/api/runs/${run.id}` });
    expect(shown.json()).toEqual(run);
  });

  it('records the evidence of the task step: prompt, call (request, response, usage, latency) and parsed output', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, abc.replace('model: offline:echo', 'model: openai:gpt-test'));
    const run = await startRun(app, manifestId, { region: 'APAC' });
    const detail = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${stepOf(run, 'A')!.id}` })).json();
    expect(detail.artifacts.prompts).toEqual([
      expect.objectContaining({
        attempt: 1,
        template: 'List the assumptions for {{inputs.region}}.',
        values: { 'inputs.region': 'APAC' },
        messages: [{ role: 'user', content: 'List the assumptions for APAC.' }],
        error: null,
      }),
    ]);
    expect(detail.artifacts.llm_calls).toEqual([
      expect.objectContaining({
        attempt: 1,
        provider: 'openai',
        model: 'gpt-test',
        request: expect.objectContaining({ model: 'gpt-test', temperature: 0 }),
        response: expect.objectContaining({ object: 'chat.completion' }),
        usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
        tries: 1,
        error: null,
      }),
    ]);
    expect(detail.artifacts.llm_calls[0].latency_ms).toBeGreaterThanOrEqual(0);
    expect(detail.artifacts.parsed_outputs).toEqual([expect.objectContaining({ attempt: 1, format: 'text', value: 'Growth 3%; churn 2%.', error: null })]);

    const b = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}` })).json();
    expect(b).toMatchObject({ step_type: 'compute', artifacts: null, attestation: null, compute_contract: { executor: 'excel', outputs: ['forecast_csv'] } });
  });

  it('does the same with the offline provider, deterministically', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, abc);
    const first = await startRun(app, manifestId, { region: 'EMEA' });
    const second = await startRun(app, manifestId, { region: 'EMEA' });
    expect(first.id).not.toBe(second.id);
    for (const run of [first, second]) {
      expect(run.status).toBe('waiting');
      expect(stepOf(run, 'A')!.output).toBe('[offline:echo] List the assumptions for EMEA.');
    }
    expect(llm.requests).toHaveLength(0);
  });
});
