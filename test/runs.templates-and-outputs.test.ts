import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

const schema = { type: 'object', required: ['score'], properties: { score: { type: 'number' } } };

describeEachDriver('templates and outputs', (ctx) => {
  it('answers inputs that templates need but are missing with 422 before anything runs', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'needs', steps: [{ key: 'A', prompt: '{{inputs.region}} {{inputs.quarter.name}} {{#if inputs.note}}{{inputs.note}}{{/if}}' }] });
    const response = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId, inputs: { quarter: {} } } });
    const problem = expectProblem(response, 422, 'INPUTS_INVALID');
    expect(problem.errors).toEqual([
      { path: 'inputs.region', message: expect.stringContaining('required by step "A"') },
      { path: 'inputs.quarter.name', message: expect.stringContaining('required by step "A"') },
    ]);
    expect(await queryRows(ctx.database.db, sql`SELECT id FROM dag_runs`)).toEqual([]);
    // An optional input (used only under {{#if}}) may be left out.
    const run = await startRun(app, manifestId, { region: 'EU', quarter: { name: 'Q3' } });
    expect(stepOf(run, 'A')!.output).toBe('[offline:echo] EU Q3 ');
  });

  it('fails a step whose template meets a missing value, never rendering it as empty', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'strict',
      steps: [
        { key: 'A', prompt: 'x', output: { format: 'json' } },
        { key: 'B', depends_on: ['A'], prompt: 'Use {{steps.A.output.missing_field}}' },
      ],
    });
    const run = await startRun(app, manifestId);
    expect(run.status).toBe('error');
    const b = stepOf(run, 'B')!;
    expect(b.status).toBe('FAIL');
    expect((b.error as { message: string }).message).toMatch(/\{\{steps\.A\.output\.missing_field\}\} has no value: "missing_field" is missing from steps\.A\.output/);
    const detail = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${b.id}` })).json();
    expect(detail.artifacts.prompts).toEqual([expect.objectContaining({ messages: null, error: expect.objectContaining({ message: expect.stringContaining('missing_field') }) })]);
    expect(detail.artifacts.llm_calls).toEqual([]);
  });

  it('extracts JSON from a fenced reply and validates it against the output schema', async () => {
    const llm = await startChatCompletionsServer({ reply: 'Here you go:\n```json\n{"score": 0.9}\n```\nAnything else?' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, { name: 'json-ok', steps: [{ key: 'A', prompt: 'score it', model: 'openai:m', output: { format: 'json', schema } }] });
      const run = await startRun(app, manifestId);
      expect(run.status).toBe('success');
      expect(stepOf(run, 'A')!.output).toEqual({ score: 0.9 });
    } finally {
      await llm.close();
    }
  });

  it('fails a step whose reply breaks the schema, or holds no JSON, with the parse error recorded', async () => {
    const llm = await startChatCompletionsServer({ reply: '{"score": "high"}' }, { reply: 'I cannot answer that.' });
    try {
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
      const manifestId = await storeManifest(app, { name: 'json-bad', steps: [{ key: 'A', prompt: 'score it', model: 'openai:m', output: { format: 'json', schema } }] });

      const invalid = await startRun(app, manifestId);
      expect(invalid.status).toBe('error');
      const a = stepOf(invalid, 'A')!;
      expect((a.error as { message: string }).message).toMatch(/does not match the step's output schema: \/score must be number/);
      const detail = (await app.inject({ method: 'GET', url: `/api/runs/${invalid.id}/steps/${a.id}` })).json();
      expect(detail.artifacts.parsed_outputs).toEqual([expect.objectContaining({ format: 'json', value: null, error: expect.objectContaining({ message: expect.stringContaining('/score must be number') }) })]);
      expect(detail.artifacts.llm_calls).toHaveLength(1);

      const noJson = await startRun(app, manifestId);
      expect((stepOf(noJson, 'A')!.error as { message: string }).message).toMatch(/not valid JSON|no JSON/);
    } finally {
      await llm.close();
    }
  });

  it('runs a step stored with step_type NULL (a manifest from before the compute migration) as a task', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'legacy', steps: [{ key: 'A', prompt: 'hello' }] });
    await ctx.database.db.execute(sql`UPDATE manifest_steps SET step_type = NULL WHERE manifest_id = ${manifestId}`);
    const run = await startRun(app, manifestId);
    expect(run.status).toBe('success');
    expect(stepOf(run, 'A')).toMatchObject({ step_type: 'task', status: 'SUCCESS', output: '[offline:echo] hello' });
  });

  it('makes the run fail on offline:fail, cancelling compute steps that wait', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'cancel',
      steps: [
        { key: 'W', step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['x'], verification: 'operator_attest' } },
        { key: 'F', prompt: 'fail', model: 'offline:fail' },
      ],
    });
    const run = await startRun(app, manifestId);
    expect(run.status).toBe('error');
    expect(run.step_runs.map((s) => [s.step_key, s.status])).toEqual([
      ['W', 'CANCELLED'],
      ['F', 'FAIL'],
    ]);
    expect(run.waiting_on).toEqual([]);
  });
});
