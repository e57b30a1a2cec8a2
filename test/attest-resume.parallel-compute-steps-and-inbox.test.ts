import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { attest, DIGEST, resume, startRun, stepOf, storeManifest, type RunJson } from './support/runs.js';

const contract = (inputs: unknown[], outputs: string[]) => ({ executor: { kind: 'cluster' }, inputs, outputs, verification: 'operator_attest', instructions: 'Do it.' });
const manifest = {
  name: 'fan-in',
  steps: [
    { key: 'plan', prompt: 'plan for {{inputs.compound}}' },
    { key: 'lab', step_type: 'compute', depends_on: ['plan'], compute_contract: contract([{ name: 'test_plan', from: 'steps.plan.output' }, 'compound'], ['assay']) },
    { key: 'sim', step_type: 'compute', depends_on: ['plan'], compute_contract: contract(['test_plan'], ['posterior']) },
    { key: 'lab_note', depends_on: ['lab'], prompt: 'note on {{steps.lab.artifacts.assay.uri}}' },
    { key: 'report', depends_on: ['lab_note', 'sim'], prompt: '{{steps.lab_note.output}} + {{steps.sim.artifacts.posterior.uri}}' },
  ],
};
const done = (name: string) => ({ outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name, uri: `file:///data/${name}`, sha256: DIGEST, bytes: 10 }] });

describeEachDriver('two compute steps side by side', (ctx) => {
  it('resumes what one attestation unblocked, waits for the other, then finishes', async () => {
    const app = await testApp(ctx.database);
    let run = await startRun(app, await storeManifest(app, manifest), { compound: 'X-7' });
    expect(run.waiting_on.map((w) => w.step_key)).toEqual(['lab', 'sim']);

    expect((await attest(app, run.id, stepOf(run, 'lab')!.id, done('assay'))).statusCode).toBe(201);
    run = (await resume(app, run.id)).json() as RunJson;
    expect(run.status).toBe('waiting');
    expect(stepOf(run, 'lab_note')).toMatchObject({ status: 'SUCCESS', output: '[offline:echo] note on file:///data/assay' });
    expect(stepOf(run, 'report')).toBeUndefined();
    expect(run.waiting_on.map((w) => w.step_key)).toEqual(['sim']);

    expect((await attest(app, run.id, stepOf(run, 'sim')!.id, done('posterior'))).statusCode).toBe(201);
    run = (await resume(app, run.id)).json() as RunJson;
    expect(run.status).toBe('success');
    expect(run.ended_at).not.toBeNull();
    expect(stepOf(run, 'report')!.output).toBe('[offline:echo] [offline:echo] note on file:///data/assay + file:///data/posterior');
    expect(run.step_runs.every((s) => s.attempt === 1)).toBe(true);
  });

  it("lists every waiting step in the operator's inbox, oldest first, with what the work needs", async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, manifest);
    const first = await startRun(app, manifestId, { compound: 'first' });
    const second = await startRun(app, manifestId, { compound: 'second' });
    expect((await attest(app, first.id, stepOf(first, 'sim')!.id, done('posterior'))).statusCode).toBe(201);

    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json();
    expect(inbox.total).toBe(3);
    expect(inbox.items.map((i: { run_id: string; step_key: string }) => [i.run_id, i.step_key])).toEqual([
      [first.id, 'lab'],
      [second.id, 'lab'],
      [second.id, 'sim'],
    ]);
    const lab = inbox.items[0];
    expect(lab).toMatchObject({
      step_run_id: stepOf(first, 'lab')!.id,
      manifest: { id: manifestId, name: 'fan-in', version: 1 },
      contract: { executor: { kind: 'cluster' }, outputs: ['assay'], instructions: 'Do it.' },
      inputs: [
        { name: 'test_plan', from: 'steps.plan.output', value: '[offline:echo] plan for first' },
        { name: 'compound', from: null, value: 'first' },
      ],
      upstream: { plan: { output: '[offline:echo] plan for first' } },
      attest_url: `/api/runs/${first.id}/steps/${stepOf(first, 'lab')!.id}/attest`,
    });
    expect(Date.parse(lab.waiting_since)).not.toBeNaN();
    const page = (await app.inject({ method: 'GET', url: '/api/attestations/pending?limit=1&offset=2' })).json();
    expect(page.items.map((i: { step_key: string }) => i.step_key)).toEqual(['sim']);
  });
});
