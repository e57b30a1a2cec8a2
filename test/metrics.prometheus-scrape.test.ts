import { sql } from 'drizzle-orm';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { attest, DIGEST, startRun, stepOf, storeManifest } from './support/runs.js';

interface Family {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string; count?: string; buckets?: Record<string, string> }>;
}

/**
 * The scrape parsed twice by a Prometheus text parser: as is (families and their types), and
 * without its TYPE lines, so that every series of a histogram (`…_count`, `…_bucket`) keeps its
 * labels (the parser folds typed histograms into one unlabelled sample).
 */
async function scrape(app: App): Promise<{ types: Map<string, string>; series: Map<string, Family> }> {
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(String(response.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
  const typed = parsePrometheusTextFormat(response.body) as Family[];
  const untyped = parsePrometheusTextFormat(response.body.replace(/^# TYPE .*\n/gm, '')) as Family[];
  // Untyped, a histogram's series come as one family per label set: gather them by name.
  const series = new Map<string, Family>();
  for (const family of untyped) {
    const seen = series.get(family.name);
    if (seen) seen.metrics.push(...family.metrics);
    else series.set(family.name, { ...family, metrics: [...family.metrics] });
  }
  return { types: new Map(typed.map((f) => [f.name, f.type])), series };
}

const sample = (family: Family | undefined, labels: Record<string, string>) =>
  family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

let llm: ChatCompletionsServer | undefined;
afterEach(async () => {
  await llm?.close();
  llm = undefined;
});

describeEachDriver('GET /metrics', (ctx) => {
  it('serves HTTP latency by route pattern, LLM calls, latency and tokens by provider and model, attestations by outcome and stalled runs', async () => {
    llm = await startChatCompletionsServer({ reply: 'a plan', usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const contract = { executor: 'lab', inputs: [], outputs: ['out'], verification: 'operator_attest' };
    const id = await storeManifest(app, {
      name: 'metered',
      steps: [
        { key: 'A', model: 'openai:gpt-test', prompt: 'plan' },
        { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: contract },
      ],
    });
    const run = await startRun(app, id);
    expect((await attest(app, run.id, stepOf(run, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'out', uri: 's3://b/o', sha256: DIGEST, bytes: 1 }] })).statusCode).toBe(201);
    await app.inject({ method: 'GET', url: `/api/runs/${run.id}` });
    // A second run left `running` by a process whose lease expired: stalled.
    const stalled = await startRun(app, id);
    await ctx.database.db.execute(sql`UPDATE dag_runs SET status = 'running', lease_owner = 'gone', lease_expires_at = now() - interval '1 minute' WHERE id = ${stalled.id}`);

    const { types, series: metrics } = await scrape(app);
    expect(types.get('stepgate_http_request_duration_seconds')).toBe('HISTOGRAM');
    expect(types.get('stepgate_llm_call_duration_seconds')).toBe('HISTOGRAM');
    expect(types.get('stepgate_stalled_runs')).toBe('GAUGE');
    const http = metrics.get('stepgate_http_request_duration_seconds_count')!;
    expect(sample(http, { method: 'GET', route: '/api/runs/:run_id', status_code: '200' })?.value).toBe('1');
    expect(sample(http, { method: 'POST', route: '/api/runs', status_code: '201' })?.value).toBe('2');
    expect(http.metrics.every((m) => !m.labels?.route?.includes(run.id))).toBe(true);
    expect(sample(metrics.get('stepgate_llm_calls_total'), { provider: 'openai', model: 'gpt-test', outcome: 'success' })?.value).toBe('2');
    expect(sample(metrics.get('stepgate_llm_call_duration_seconds_count'), { provider: 'openai', model: 'gpt-test' })?.value).toBe('2');
    expect(sample(metrics.get('stepgate_llm_tokens_total'), { provider: 'openai', model: 'gpt-test', kind: 'prompt' })?.value).toBe('22');
    expect(sample(metrics.get('stepgate_llm_tokens_total'), { provider: 'openai', model: 'gpt-test', kind: 'completion' })?.value).toBe('14');
    expect(sample(metrics.get('stepgate_attestations_total'), { outcome: 'SUCCESS' })?.value).toBe('1');
    expect(metrics.get('stepgate_stalled_runs')?.metrics[0]?.value).toBe('1');
    expect(types.get('stepgate_transitions_total')).toBe('COUNTER');
    // Two runs created, each starting A, finishing it, parking B and releasing; one attestation.
    const transitions = metrics.get('stepgate_transitions_total');
    expect(sample(transitions, { kind: 'create' })?.value).toBe('2');
    expect(sample(transitions, { kind: 'start-step' })?.value).toBe('2');
    expect(sample(transitions, { kind: 'finish-step' })?.value).toBe('2');
    expect(sample(transitions, { kind: 'park' })?.value).toBe('2');
    expect(sample(transitions, { kind: 'release' })?.value).toBe('2');
    expect(sample(transitions, { kind: 'attest' })?.value).toBe('1');
  });

  it('keeps a registry per app, so two apps count apart', async () => {
    const first = await testApp(ctx.database);
    const second = await testApp(ctx.database);
    await first.inject({ method: 'GET', url: '/healthz' });
    await first.inject({ method: 'GET', url: '/healthz' });
    expect(sample((await scrape(first)).series.get('stepgate_http_request_duration_seconds_count'), { route: '/healthz' })?.value).toBe('2');
    expect(sample((await scrape(second)).series.get('stepgate_http_request_duration_seconds_count'), { route: '/healthz' })).toBeUndefined();
  });
});
