import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { startRun, stepOf, storeManifest } from './support/runs.js';

const contract = (output: string) => ({ executor: 'cluster', inputs: ['a'], outputs: [output], verification: 'operator_attest' });

describeEachDriver('independent compute steps', (ctx) => {
  it('park side by side, while a task step that does not depend on them runs before the run returns', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'fan-out',
      steps: [
        { key: 'A', prompt: 'plan' },
        { key: 'sim', step_type: 'compute', depends_on: ['A'], compute_contract: contract('posterior') },
        { key: 'lab', step_type: 'compute', depends_on: ['A'], compute_contract: contract('assay') },
        { key: 'summary', depends_on: ['A'], prompt: 'summarize {{steps.A.output}}' },
        { key: 'report', depends_on: ['sim', 'lab', 'summary'], prompt: '{{steps.sim.artifacts.posterior.uri}} {{steps.lab.outcome}}' },
      ],
    });
    const run = await startRun(app, manifestId);
    expect(run.status).toBe('waiting');
    expect(run.step_runs.map((s) => [s.step_key, s.status])).toEqual([
      ['A', 'SUCCESS'],
      ['sim', 'WAITING_FOR_ATTESTATION'],
      ['lab', 'WAITING_FOR_ATTESTATION'],
      ['summary', 'SUCCESS'],
    ]);
    expect(stepOf(run, 'summary')!.output).toBe('[offline:echo] summarize [offline:echo] plan');
    expect(run.waiting_on.map((w) => w.step_key)).toEqual(['sim', 'lab']);
    expect(stepOf(run, 'report')).toBeUndefined();
  });

  it('one step at a time (STEPGATE_MAX_PARALLEL_STEPS=1), steps run in topological order with ties broken by manifest order', async () => {
    const llm = await startChatCompletionsServer({ reply: 'ok' });
    try {
      // Held back by the run's limit, ready steps start in the plan's order (SPEC §15).
      const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, defaultModel: 'openai:m', maxParallelSteps: 1 });
      const manifestId = await storeManifest(app, {
        name: 'order',
        steps: [
          { key: 'late', depends_on: ['first'], prompt: 'late' },
          { key: 'first', prompt: 'first' },
          { key: 'second', prompt: 'second' },
          { key: 'last', depends_on: ['late', 'second'], prompt: 'last' },
        ],
      });
      const run = await startRun(app, manifestId);
      expect(run.status).toBe('success');
      expect(run.ended_at).not.toBeNull();
      // The order the protocol server saw the prompts in is the order the steps ran in.
      const prompts = llm.requests.map((r) => (r.body.messages as Array<{ content: string }>)[0]!.content);
      expect(prompts).toEqual(['first', 'late', 'second', 'last']);
      expect(run.step_runs.every((s) => s.status === 'SUCCESS' && s.ended_at !== null)).toBe(true);
    } finally {
      await llm.close();
    }
  });
});
