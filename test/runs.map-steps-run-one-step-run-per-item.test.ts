import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';
import { startLatencyLlm, type LatencyLlm } from './support/latency-llm.js';
import { attest, DIGEST, resume, startRun, stepOf, storeManifest, type RunJson } from './support/runs.js';

/**
 * SPEC §17: a step with `for_each` runs once per item of a JSON array — the run's inputs or
 * an upstream task step's JSON output — each item its own step run (`item_index`), task
 * items concurrently, compute items each parked and attested on its own; downstream sees the
 * items' outputs in item order.
 */

const contract = { executor: 'lab', inputs: [], outputs: ['reading'], verification: 'operator_attest', instructions: 'Measure sample {{item.id}} ({{item_index}})' };
const reading = (n: number) => ({ name: 'reading', uri: `file:///lab/reading-${n}.csv`, sha256: DIGEST, bytes: n });

type MapJson = RunJson & { map_steps: Array<{ step_key: string; total: number | null; done: number; failed: number; waiting: number; running: number; cancelled: number }> };

describeEachDriver('map steps', (ctx) => {
  let llm: LatencyLlm;
  beforeEach(async () => {
    llm = await startLatencyLlm();
  });
  afterEach(async () => {
    await llm.close();
  });

  it('refuses each bad for_each with 422 naming the step and its path, and stores nothing', async () => {
    const app = await testApp(ctx.database);
    const cases: Array<[unknown[], string, RegExp]> = [
      [[{ key: 'M', for_each: 'items.docs', prompt: 'x' }], 'steps[0].for_each', /expected "inputs.<path>" or "steps.<key>.output/],
      [[{ key: 'M', for_each: 'inputs', prompt: 'x' }], 'steps[0].for_each', /expected "inputs.<path>"/],
      [[{ key: 'M', for_each: 'steps.X.output', prompt: 'x' }], 'steps[0].for_each', /unknown step "X"/],
      [[{ key: 'A', prompt: 'a', output: { format: 'json' } }, { key: 'M', for_each: 'steps.A.output', prompt: 'x' }], 'steps[1].for_each', /"A" is not upstream of "M"/],
      [[{ key: 'A', prompt: 'a' }, { key: 'M', depends_on: ['A'], for_each: 'steps.A.output', prompt: 'x' }], 'steps[1].for_each', /"A" has text output/],
      [
        [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'x', inputs: [], outputs: [], verification: 'operator_attest' } }, { key: 'M', depends_on: ['B'], for_each: 'steps.B.output', prompt: 'x' }],
        'steps[1].for_each',
        /"B" is a compute step/,
      ],
      [[{ key: 'M', prompt: 'about {{item}}' }], 'steps[0].prompt', /only a map step's templates see item/],
      [[{ key: 'M', step_type: 'compute', compute_contract: { ...contract, instructions: 'sample {{item_index}}' } }], 'steps[0].compute_contract.instructions', /only a map step's templates see item_index/],
    ];
    for (const [steps, path, message] of cases) {
      const body = expectProblem(await postManifest(app, { name: 'bad-map', steps }), 422, 'MANIFEST_INVALID');
      expect(body.errors, JSON.stringify(steps)).toContainEqual({ path, message: expect.stringMatching(message) });
    }
    expect((await app.inject({ method: 'GET', url: '/api/manifests' })).json().items).toHaveLength(0);
  });

  it('a task map over the run\'s inputs: one step run per item, concurrently, each prompt seeing item and item_index; downstream sees the outputs in item order', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, {
      name: 'summaries',
      steps: [
        { key: 'S', for_each: 'inputs.docs', model: 'openai:lat-400', prompt: 'summarize #{{item_index}}: {{item.title}}' },
        { key: 'merge', depends_on: ['S'], model: 'openai:lat-10', prompt: 'merge {{json steps.S.output}}' },
      ],
    });
    const run = (await startRun(app, manifestId, { docs: [{ title: 'alpha' }, { title: 'beta' }, { title: 'gamma' }] })) as MapJson;
    expect(run.status).toBe('success');
    expect(run.step_runs.map((s) => `${s.step_key}${s.item_index === null ? '' : `[${s.item_index}]`}:${s.status}`)).toEqual(['S[0]:SUCCESS', 'S[1]:SUCCESS', 'S[2]:SUCCESS', 'merge:SUCCESS']);
    expect(run.step_runs.slice(0, 3).map((s) => s.item)).toEqual([{ title: 'alpha' }, { title: 'beta' }, { title: 'gamma' }]);
    expect(llm.peakInFlight).toBe(3);
    expect(stepOf(run, 'merge')!.output).toBe(`merge ${JSON.stringify(['summarize #0: alpha ✓', 'summarize #1: beta ✓', 'summarize #2: gamma ✓'], null, 2)} ✓`);
    expect(run.map_steps).toEqual([{ step_key: 'S', total: 3, done: 3, failed: 0, waiting: 0, running: 0, cancelled: 0 }]);
  });

  it('events name each item: the NDJSON stream and the record carry item_index on every item\'s events', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'item-events', steps: [{ key: 'S', for_each: 'inputs.docs', prompt: 'doc {{item}}' }] });
    const response = await app.inject({ method: 'POST', url: '/api/runs', headers: { accept: 'application/x-ndjson' }, payload: { manifest_id: manifestId, inputs: { docs: ['a', 'b'] } } });
    const lines = response.body.trim().split('\n').map((line) => JSON.parse(line) as { kind?: string; step_key?: string; item_index?: number | null; id?: string; status?: string });
    const items = lines.filter((line) => line.kind?.startsWith('step_')).map((line) => `${line.kind}:${line.step_key}[${line.item_index}]`);
    expect(items.sort()).toEqual(['step_started:S[0]', 'step_started:S[1]', 'step_succeeded:S[0]', 'step_succeeded:S[1]']);
    expect(lines.filter((line) => line.kind?.startsWith('run_')).every((line) => line.item_index === null)).toBe(true);
    const run = lines.at(-1)!;
    expect(run.status).toBe('success');
    const recorded = await queryRows<{ kind: string; item_index: number | null }>(ctx.database.db, sql`SELECT kind, item_index FROM run_events WHERE run_id = ${run.id!} AND step_key = 'S' ORDER BY item_index, kind`);
    expect(recorded).toEqual([
      { kind: 'step_started', item_index: 0 },
      { kind: 'step_succeeded', item_index: 0 },
      { kind: 'step_started', item_index: 1 },
      { kind: 'step_succeeded', item_index: 1 },
    ]);
  });

  it('a task map over an upstream step\'s JSON output, and an empty list that succeeds at once with []', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'from-upstream',
      steps: [
        { key: 'plan', prompt: 'list pages', output: { format: 'json', schema: { type: 'object', properties: { pages: { type: 'array', minItems: 3, items: { type: 'string' } } } } } },
        { key: 'P', depends_on: ['plan'], for_each: 'steps.plan.output.pages', prompt: 'page {{item_index}} says {{item}}' },
        { key: 'E', for_each: 'inputs.none', prompt: 'never {{item}}' },
        { key: 'merge', depends_on: ['P', 'E'], prompt: '{{json steps.P.output}} / {{json steps.E.output}}' },
      ],
    });
    const run = (await startRun(app, manifestId, { none: [] })) as MapJson;
    expect(run.status, JSON.stringify(run, null, 1)).toBe('success');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.item_index}:${s.status}`)).toEqual(['plan:null:SUCCESS', 'P:0:SUCCESS', 'P:1:SUCCESS', 'P:2:SUCCESS', 'E:null:SUCCESS', 'merge:null:SUCCESS']);
    expect(stepOf(run, 'E')!.output).toEqual([]);
    expect(stepOf(run, 'merge')!.output).toContain('"[offline:echo] page 2 says offline"\n] / []');
    expect(run.map_steps).toEqual([
      { step_key: 'P', total: 3, done: 3, failed: 0, waiting: 0, running: 0, cancelled: 0 },
      { step_key: 'E', total: 0, done: 0, failed: 0, waiting: 0, running: 0, cancelled: 0 },
    ]);
  });

  it('a list that is not one, or longer than STEPGATE_MAX_ITEMS: 422 when the inputs show it, else the step fails with the reason', async () => {
    const app = await testApp(ctx.database, { maxItems: 2 });
    const overInputs = await storeManifest(app, { name: 'over-inputs', steps: [{ key: 'M', for_each: 'inputs.docs', prompt: '{{item}}' }] });
    for (const [docs, message] of [
      [{ a: 1 }, /for_each: inputs.docs is not a list \(a JSON array\), found an object \(step "M" maps over it\)/],
      [[1, 2, 3], /for_each: inputs.docs has 3 items, more than STEPGATE_MAX_ITEMS \(2\) allows/],
    ] as const) {
      const refused = expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: overInputs, inputs: { docs } } }), 422);
      expect(refused.errors).toContainEqual({ path: 'inputs.docs', message: expect.stringMatching(message) });
    }
    expect((await app.inject({ method: 'GET', url: '/api/runs' })).json().items).toHaveLength(0);

    const overOutput = await storeManifest(app, {
      name: 'over-output',
      steps: [
        { key: 'plan', prompt: 'x', output: { format: 'json', schema: { type: 'object', properties: { pages: { type: 'array', minItems: 3 }, title: { type: 'string' } } } } },
        { key: 'P', depends_on: ['plan'], for_each: 'steps.plan.output.pages', prompt: '{{item}}' },
        { key: 'T', depends_on: ['plan'], for_each: 'steps.plan.output.title', prompt: '{{item}}' },
      ],
    });
    const run = await startRun(app, overOutput);
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ step_key: 'P', message: 'step P failed' });
    expect(stepOf(run, 'P')).toMatchObject({ status: 'FAIL', item_index: null, error: { message: 'for_each: steps.plan.output.pages has 3 items, more than STEPGATE_MAX_ITEMS (2) allows' } });
    expect(stepOf(run, 'T')).toMatchObject({ status: 'FAIL', item_index: null, error: { message: 'for_each: steps.plan.output.title is not a list (a JSON array), found string "offline"' } });
  });

  it('an item that fails with others in flight: they are recorded, the run ends error naming the item; a retry calls only that item again', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, {
      name: 'one-item-fails',
      steps: [
        { key: 'S', for_each: 'inputs.docs', model: 'openai:lat-20', prompt: 'doc {{item}}' },
        { key: 'merge', depends_on: ['S'], model: 'openai:lat-10', prompt: 'merge {{json steps.S.output}}' },
      ],
    });
    const failed = (await startRun(app, manifestId, { docs: ['a #slow', 'b #flaky', 'c #slow'] })) as MapJson;
    expect(failed.status).toBe('error');
    expect(failed.error).toMatchObject({ step_key: 'S', item_index: 1, message: 'item 1 of step S failed' });
    expect(failed.step_runs.map((s) => `${s.step_key}[${s.item_index}]:${s.status}`)).toEqual(['S[0]:SUCCESS', 'S[1]:FAIL', 'S[2]:SUCCESS']);
    expect(failed.map_steps[0]).toMatchObject({ total: 3, done: 2, failed: 1 });

    llm.heal();
    llm.reset();
    const retried = await app.inject({ method: 'POST', url: `/api/runs/${failed.id}/retry` });
    expect(retried.statusCode, retried.body).toBe(200);
    const run = retried.json() as MapJson;
    expect(run.status).toBe('success');
    expect(llm.calls.map((c) => c.prompt)).toEqual(['doc b #flaky', expect.stringMatching(/^merge /)]);
    expect(run.step_runs.map((s) => `${s.step_key}[${s.item_index}]:${s.status}:${s.attempt}`)).toEqual(['S[0]:SUCCESS:1', 'S[1]:FAIL:1', 'S[1]:SUCCESS:2', 'S[2]:SUCCESS:1', 'merge[null]:SUCCESS:1']);
    expect(stepOf(run, 'merge')!.output).toBe(`merge ${JSON.stringify(['doc a #slow ✓', 'doc b #flaky ✓', 'doc c #slow ✓'], null, 2)} ✓`);
  });

  it('a compute map parks one wait per item; each is attested on its own, in any order and concurrently; the last resume runs what needed them all', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'samples',
      steps: [
        { key: 'B', step_type: 'compute', for_each: 'inputs.samples', compute_contract: contract },
        { key: 'report', depends_on: ['B'], prompt: '{{#each steps.B.items}}{{this.outcome}} {{this.artifacts.reading.uri}}; {{/each}}' },
      ],
    });
    const run = (await startRun(app, manifestId, { samples: [{ id: 's-1' }, { id: 's-2' }, { id: 's-3' }] })) as MapJson;
    expect(run.status).toBe('waiting');
    expect(run.waiting_on.map((w) => `${w.step_key}[${w.item_index}]`)).toEqual(['B[0]', 'B[1]', 'B[2]']);
    expect(run.map_steps).toEqual([{ step_key: 'B', total: 3, done: 0, failed: 0, waiting: 3, running: 0, cancelled: 0 }]);

    // The inbox lists each item, with the item and its rendered instructions.
    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json().items as Array<{ step_key: string; item_index: number | null; item: unknown; label: string; instructions: string | null }>;
    expect(inbox.map((entry) => [entry.label, entry.item, entry.instructions])).toEqual([
      ['B[0]', { id: 's-1' }, 'Measure sample s-1 (0)'],
      ['B[1]', { id: 's-2' }, 'Measure sample s-2 (1)'],
      ['B[2]', { id: 's-3' }, 'Measure sample s-3 (2)'],
    ]);

    const b = (i: number) => run.step_runs.find((s) => s.item_index === i)!.id;
    expect((await attest(app, run.id, b(2), { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [reading(3)] })).statusCode).toBe(201);
    const plan = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/plan` })).json();
    expect(plan.steps.map((s: { step_key: string; plan: string; items: unknown }) => [s.step_key, s.plan, s.items])).toEqual([
      ['B', 'waiting', { total: 3, done: 1, will_run: 0, waiting: 2, failed: 0, blocked: 0 }],
      ['report', 'blocked', null],
    ]);
    const halfway = (await resume(app, run.id)).json() as MapJson;
    expect(halfway.status).toBe('waiting');
    expect(halfway.map_steps[0]).toMatchObject({ done: 1, waiting: 2 });
    const both = await Promise.all([
      attest(app, run.id, b(0), { outcome: 'SUCCESS', attested_by: 'bo', artifacts: [reading(1)] }),
      attest(app, run.id, b(1), { outcome: 'SUCCESS', attested_by: 'cy', artifacts: [reading(2)] }),
    ]);
    expect(both.map((r) => r.statusCode)).toEqual([201, 201]);
    const done = (await resume(app, run.id)).json() as MapJson;
    expect(done.status).toBe('success');
    expect(stepOf(done, 'report')!.output).toBe('[offline:echo] SUCCESS file:///lab/reading-1.csv; SUCCESS file:///lab/reading-2.csv; SUCCESS file:///lab/reading-3.csv; ');

    // One provenance statement per attested item; the run's bundle holds them all.
    const bundle = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/provenance` })).body.trim().split('\n').map((line) => JSON.parse(line));
    expect(bundle.map((statement) => [statement.predicate.step.key, statement.predicate.step.item_index, statement.predicate.attester.name, statement.subject[0].name])).toEqual([
      ['B', 0, 'bo', 'reading'],
      ['B', 1, 'cy', 'reading'],
      ['B', 2, 'ana', 'reading'],
    ]);
    expect(new Set(bundle.map((statement) => statement.predicate.step.item_digest.sha256)).size).toBe(3);
    const one = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${b(1)}/provenance` })).json();
    expect(one.predicate.step).toMatchObject({ key: 'B', step_run_id: b(1), item_index: 1 });
  });

  it('parks 10,000 compute items in one statement: one JSON parameter per kind of write, never the driver\'s bind-parameter limit', async () => {
    const app = await testApp(ctx.database, { maxItems: 10_000 });
    const manifestId = await storeManifest(app, { name: 'many-samples', steps: [{ key: 'B', step_type: 'compute', for_each: 'inputs.samples', compute_contract: { ...contract, instructions: 'x' } }] });
    const samples = Array.from({ length: 10_000 }, (_, i) => ({ id: i }));
    const run = (await startRun(app, manifestId, { samples })) as MapJson;
    expect(run.status).toBe('waiting');
    expect(run.map_steps).toEqual([{ step_key: 'B', total: 10_000, done: 0, failed: 0, waiting: 10_000, running: 0, cancelled: 0 }]);
    const [row] = await queryRows<{ n: number; last: number }>(ctx.database.db, sql`SELECT count(*)::int AS n, max(item_index) AS last FROM dag_step_runs WHERE run_id = ${run.id}`);
    expect(row).toEqual({ n: 10_000, last: 9_999 });
  });

  it('a compute map with one item attested FAIL ends the run in error, keeps the items attested before, and a retry asks again only for the failed and cancelled ones', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'samples-fail', steps: [{ key: 'B', step_type: 'compute', for_each: 'inputs.samples', compute_contract: contract }] });
    const run = await startRun(app, manifestId, { samples: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
    const b = (i: number) => run.step_runs.find((s) => s.item_index === i)!.id;
    expect((await attest(app, run.id, b(0), { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [reading(1)] })).statusCode).toBe(201);
    const failed = await attest(app, run.id, b(1), { outcome: 'FAIL', attested_by: 'ana', notes: 'contaminated' });
    expect(failed.statusCode).toBe(201);
    const ended = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}` })).json() as MapJson;
    expect(ended.status).toBe('error');
    expect(ended.step_runs.map((s) => `${s.item_index}:${s.status}`)).toEqual(['0:SUCCESS', '1:FAIL', '2:CANCELLED']);

    const retried = (await app.inject({ method: 'POST', url: `/api/runs/${run.id}/retry` })).json() as MapJson;
    expect(retried.status).toBe('waiting');
    expect(retried.waiting_on.map((w) => w.item_index)).toEqual([1, 2]);
    expect(retried.step_runs.map((s) => `${s.item_index}:${s.status}:${s.attempt}`)).toEqual(['0:SUCCESS:1', '1:FAIL:1', '1:WAITING_FOR_ATTESTATION:2', '2:CANCELLED:1', '2:WAITING_FOR_ATTESTATION:2']);
  });
});
