import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createProviders } from '../src/providers/llm/registry.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { builtInTestProviders, testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { startLatencyLlm, type LatencyLlm } from './support/latency-llm.js';
import { startRun, stepOf, storeManifest, type RunJson } from './support/runs.js';

/**
 * SPEC §15: ready task steps run concurrently, within the run's limit and the provider's;
 * a step starts the moment its own dependencies succeeded; the record does not depend on
 * the order in which calls return. Measured at the protocol level, against a local
 * OpenAI-compatible server whose latency comes from the model name.
 */

/** plan → s1…sK → merge; section i's model is `models(i)`. */
function fanOut(name: string, k: number, models: (i: number) => string = () => 'openai:lat-20') {
  const sections = Array.from({ length: k }, (_, i) => `s${i + 1}`);
  return {
    name,
    steps: [
      { key: 'plan', model: 'openai:lat-20', prompt: 'plan {{inputs.topic}}' },
      ...sections.map((key, i) => ({ key, depends_on: ['plan'], model: models(i), prompt: `section ${i + 1} of {{steps.plan.output}}` })),
      { key: 'merge', depends_on: sections, model: 'openai:lat-20', prompt: `merge ${sections.map((key) => `{{steps.${key}.output}}`).join(' | ')}` },
    ],
  };
}

/** What a run recorded, independent of timing: each step's status, attempt, output and rendered prompt. */
async function recordOf(database: Database, runId: string) {
  return queryRows<{ step_key: string; status: string; attempt: number; output: unknown; messages: unknown }>(
    database.db,
    sql`SELECT s.step_key, s.status, s.attempt, s.output, p.messages
        FROM dag_step_runs s JOIN prompt_artifacts p ON p.step_run_id = s.id
        WHERE s.run_id = ${runId} ORDER BY s.step_key`,
  );
}

async function runningLeft(database: Database): Promise<number> {
  const [row] = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE status = 'RUNNING'`);
  return row!.n;
}

describeEachDriver('independent task steps run concurrently', (ctx) => {
  let llm: LatencyLlm;
  beforeEach(async () => {
    llm = await startLatencyLlm();
  });
  afterEach(async () => {
    await llm.close();
  });

  it('plan → 6 sections → merge: the sections overlap (6 in flight), 8 calls, and the record is the serial run\'s whatever order the calls return in', async () => {
    const concurrent = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const serial = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, maxParallelSteps: 1 });
    // The same six sections, the first slowest in one manifest and the last slowest in the other.
    const slowFirst = await storeManifest(concurrent, fanOut('slow-first', 6, (i) => `openai:lat-${20 + (6 - i) * 40}`));
    const slowLast = await storeManifest(concurrent, fanOut('slow-last', 6, (i) => `openai:lat-${20 + i * 40}`));

    const runs: RunJson[] = [];
    for (const [app, manifestId, peak] of [
      [concurrent, slowFirst, 6],
      [concurrent, slowLast, 6],
      [serial, slowFirst, 1],
    ] as const) {
      llm.reset();
      const run = await startRun(app, manifestId, { topic: 'rivers' });
      expect(run.status).toBe('success');
      expect(llm.calls).toHaveLength(8);
      expect(llm.peakInFlight).toBe(peak);
      runs.push(run);
    }
    const [first, second, third] = await Promise.all(runs.map((run) => recordOf(ctx.database, run.id)));
    expect(first).toHaveLength(8);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(stepOf(runs[0]!, 'merge')!.output).toBe('merge section 1 of plan rivers ✓ ✓ | section 2 of plan rivers ✓ ✓ | section 3 of plan rivers ✓ ✓ | section 4 of plan rivers ✓ ✓ | section 5 of plan rivers ✓ ✓ | section 6 of plan rivers ✓ ✓ ✓');
  });

  it('the NDJSON stream tells the concurrent steps apart: each step_started and step_succeeded names its step and step run, and the sections all start before any ends', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, fanOut('streamed', 3, () => 'openai:lat-150'));
    const response = await app.inject({ method: 'POST', url: '/api/runs', headers: { accept: 'application/x-ndjson' }, payload: { manifest_id: manifestId, inputs: { topic: 'x' } } });
    expect(response.statusCode).toBe(200); // a stream starts before the run's outcome is known
    const lines = response.body.trim().split('\n').map((line) => JSON.parse(line) as { kind?: string; step_key?: string; step_run_id?: string; status?: string });
    const events = lines.filter((line) => line.kind?.startsWith('step_') && line.step_key?.startsWith('s'));
    expect(events.map((e) => `${e.kind}:${e.step_key}`).slice(0, 3).sort()).toEqual(['step_started:s1', 'step_started:s2', 'step_started:s3']);
    expect(events.slice(3).map((e) => e.kind)).toEqual(['step_succeeded', 'step_succeeded', 'step_succeeded']);
    // Each end names the step run its start named.
    for (const end of events.slice(3)) expect(events.find((e) => e.kind === 'step_started' && e.step_key === end.step_key)!.step_run_id).toBe(end.step_run_id);
    expect(new Set(events.map((e) => e.step_run_id)).size).toBe(3);
    expect(lines.at(-1)).toMatchObject({ status: 'success' });
  });

  it('the run\'s limit holds (3 in flight at most) and the steps it holds back start in plan order', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, maxParallelSteps: 3 });
    const run = await startRun(app, await storeManifest(app, fanOut('limited', 7, () => 'openai:lat-60')), { topic: 'x' });
    expect(run.status).toBe('success');
    expect(llm.peakInFlight).toBe(3);
    // The first three went out together; each later one when a slot freed, in plan order.
    const started = await queryRows<{ step_key: string; started_at: string }>(
      ctx.database.db,
      sql`SELECT step_key, to_char(started_at, 'HH24:MI:SS.US') AS started_at FROM dag_step_runs WHERE run_id = ${run.id} AND step_key LIKE 's%' ORDER BY started_at, step_key`,
    );
    expect(started.map((s) => s.step_key)).toEqual(['s1', 's2', 's3', 's4', 's5', 's6', 's7']);
    expect(new Set(started.slice(0, 3).map((s) => s.started_at)).size).toBe(1);
    expect(started[3]!.started_at > started[2]!.started_at).toBe(true);
  });

  it('a provider\'s max_concurrency holds under 20 concurrent runs of one process: the peak at its server is the limit', async () => {
    // As a providers file's `openai: { kind: openai, max_concurrency: 4 }` makes it.
    const settings = builtInTestProviders({ openaiBaseUrl: llm.baseUrl }).map((provider) => (provider.name === 'openai' ? { ...provider, maxConcurrency: 4 } : provider));
    const app = await testApp(ctx.database, { providers: createProviders(settings) });
    const manifestId = await storeManifest(app, fanOut('provider-limit', 3, () => 'openai:lat-30'));
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => startRun(app, manifestId, { topic: `t${i}` })));
    expect(runs.map((run) => run.status)).toEqual(Array.from({ length: 20 }, () => 'success'));
    expect(llm.calls).toHaveLength(20 * 5);
    expect(llm.peakInFlight).toBe(4);
  });

  it('a step starts the moment its own dependencies succeed, never held for an unrelated slower step', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, {
      name: 'uneven',
      steps: [
        { key: 'plan', model: 'openai:lat-20', prompt: 'plan' },
        { key: 'a', depends_on: ['plan'], model: 'openai:lat-100', prompt: 'a' },
        { key: 'b', depends_on: ['a'], model: 'openai:lat-100', prompt: 'b' },
        { key: 'c', depends_on: ['plan'], model: 'openai:lat-400', prompt: 'c' },
        { key: 'merge', depends_on: ['b', 'c'], model: 'openai:lat-20', prompt: 'merge' },
      ],
    });
    const run = await startRun(app, manifestId);
    expect(run.status).toBe('success');
    const call = (prompt: string) => llm.calls.find((c) => c.prompt === prompt)!;
    // b went out while c was still in flight (a superstep engine would wait for c).
    expect(call('b').startedAt).toBeLessThan(call('c').endedAt!);
    expect(call('b').startedAt).toBeGreaterThanOrEqual(call('a').endedAt!);
    expect(call('merge').startedAt).toBeGreaterThanOrEqual(Math.max(call('b').endedAt!, call('c').endedAt!));
  });

  it('a failing step stops new starts; the steps in flight finish and are recorded; the error names the first failed step in plan order; a retry reruns only what failed', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, {
      name: 'one-fails',
      steps: [
        { key: 'plan', model: 'openai:lat-10', prompt: 'plan' },
        // `early` fails after `quick` has, but comes first in the plan.
        { key: 'early', depends_on: ['plan'], model: 'openai:flaky-150', prompt: 'early' },
        { key: 'ok1', depends_on: ['plan'], model: 'openai:lat-300', prompt: 'ok1' },
        { key: 'quick', depends_on: ['plan'], model: 'openai:flaky-10', prompt: 'quick' },
        { key: 'ok2', depends_on: ['plan'], model: 'openai:lat-300', prompt: 'ok2' },
        { key: 'after', depends_on: ['quick'], model: 'openai:lat-10', prompt: 'after' },
        { key: 'merge', depends_on: ['early', 'ok1', 'ok2', 'after'], model: 'openai:lat-10', prompt: 'merge' },
      ],
    });
    const failed = await startRun(app, manifestId);
    expect(failed.status).toBe('error');
    expect(failed.error).toMatchObject({ step_key: 'early', message: 'step early failed' });
    expect(failed.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['plan:SUCCESS', 'early:FAIL', 'ok1:SUCCESS', 'quick:FAIL', 'ok2:SUCCESS']);
    expect(llm.calls.map((c) => c.prompt).sort()).toEqual(['early', 'ok1', 'ok2', 'plan', 'quick']);
    expect(await runningLeft(ctx.database)).toBe(0);

    llm.heal();
    llm.reset();
    const retried = await app.inject({ method: 'POST', url: `/api/runs/${failed.id}/retry` });
    expect(retried.statusCode, retried.body).toBe(200);
    const run = retried.json() as RunJson;
    expect(run.status).toBe('success');
    // The sections that succeeded are reused: only the failed steps and what they blocked are called.
    expect(llm.calls.map((c) => c.prompt).sort()).toEqual(['after', 'early', 'merge', 'quick']);
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual([
      'plan:SUCCESS:1',
      'early:FAIL:1',
      'early:SUCCESS:2',
      'ok1:SUCCESS:1',
      'quick:FAIL:1',
      'quick:SUCCESS:2',
      'ok2:SUCCESS:1',
      'after:SUCCESS:1',
      'merge:SUCCESS:1',
    ]);
  });
});
