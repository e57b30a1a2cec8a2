import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { startGatedLlm, type GatedLlm } from './support/gated-llm.js';
import { postgresForProcesses, type SharedPostgres } from './support/postgres-for-processes.js';
import { api } from './support/server-process.js';
import { startTranspiledServer, transpileSources, type KillableServer, type TranspiledSources } from './support/transpiled-server.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * SPEC §4–§6, §9 across processes: three server processes share one PostgreSQL database. 30
 * runs wait at a compute step; then every attest is sent to two servers at once and every
 * resume to all three at once, all 30 runs at the same time (the attests of some runs race
 * the resumes of others). Exactly one attest and one resume win per run (the others get 409),
 * the LLM is called once per task step (counted at the LLM server), and every run ends
 * `success`.
 */

const DIGEST = 'd'.repeat(64);
const RUNS = 30;
const manifest = {
  name: 'storm',
  steps: [
    { key: 'A', model: 'openai:m', prompt: 'A for {{inputs.region}}' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: ['assumptions'], outputs: ['forecast_csv'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'C for {{inputs.region}} after {{steps.A.output}} and {{steps.B.artifacts.forecast_csv.uri}}' },
  ],
};
const promptA = (region: string) => `A for ${region}`;
const promptC = (region: string) => `C for ${region} after a-of-${region} and file:///data/${region}.csv`;
const attestation = (region: string) => ({ outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'forecast_csv', uri: `file:///data/${region}.csv`, sha256: DIGEST, bytes: 42 }] });

const url = testPostgresUrl();

describe('[postgres] three server processes in a storm of attests and resumes', () => {
  let sources: TranspiledSources;
  let pg: SharedPostgres;
  let llm: GatedLlm;
  let servers: KillableServer[] = [];

  beforeAll(async () => {
    sources = transpileSources();
    pg = await postgresForProcesses(url);
    // C answers a little late, so that each winning resume is still in its LLM call while the storm goes on.
    llm = await startGatedLlm((prompt) =>
      prompt.startsWith('A for ') ? { reply: `a-of-${prompt.slice(6)}` } : { reply: 'memo', after: new Promise((resolve) => setTimeout(resolve, 200)) },
    );
    const env = { DATABASE_URL: pg.url, OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'k' };
    servers = await Promise.all([0, 1, 2].map(() => startTranspiledServer(sources, env)));
  }, 180_000);

  afterAll(async () => {
    for (const server of servers) expect(await server.stop(), server.output()).toBe(0);
    await llm?.close();
    await pg?.close();
    sources?.remove();
  });

  it('lets exactly one attest and one resume win per run, calls the LLM once per task step, and ends every run success', async () => {
    const urls = servers.map((s) => s.baseUrl);
    const stored = await api(urls[0]!, 'POST', '/api/manifests', manifest);
    expect(stored.status).toBe(201);
    const regions = Array.from({ length: RUNS }, (_, i) => `storm-${i}`);
    const runs = await Promise.all(
      regions.map(async (region, i) => {
        const run = await api(urls[i % 3]!, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region } });
        expect(run.status, JSON.stringify(run.body)).toBe(201);
        expect(run.body.status).toBe('waiting');
        return { region, runId: run.body.id as string, bId: run.body.waiting_on[0].step_run_id as string, i };
      }),
    );

    const outcomes = await Promise.all(
      runs.map(async ({ region, runId, bId, i }) => {
        const attestPath = `/api/runs/${runId}/steps/${bId}/attest`;
        const attests = await Promise.all([api(urls[i % 3]!, 'POST', attestPath, attestation(region)), api(urls[(i + 1) % 3]!, 'POST', attestPath, attestation(region))]);
        const resumes = await Promise.all(urls.map((server) => api(server, 'POST', `/api/runs/${runId}/resume`)));
        return { region, runId, attests, resumes };
      }),
    );

    for (const { region, runId, attests, resumes } of outcomes) {
      expect(attests.map((a) => a.status).sort(), `${region} attests: ${JSON.stringify(attests.map((a) => a.body))}`).toEqual([201, 409]);
      expect(attests.find((a) => a.status === 409)!.body.code).toBe('ALREADY_ATTESTED');
      expect(resumes.map((r) => r.status).sort(), `${region} resumes: ${JSON.stringify(resumes.map((r) => r.body))}`).toEqual([200, 409, 409]);
      expect(resumes.find((r) => r.status === 200)!.body.status).toBe('success');
      for (const loser of resumes.filter((r) => r.status === 409)) expect(loser.body.code).toBe('RUN_NOT_WAITING');
      const shown = await api(urls[0]!, 'GET', `/api/runs/${runId}`);
      expect(shown.body.status).toBe('success');
      expect(shown.body.step_runs.map((s: { step_key: string; attempt: number; status: string }) => `${s.step_key}${s.attempt}:${s.status}`)).toEqual(['A1:SUCCESS', 'B1:SUCCESS', 'C1:SUCCESS']);
      expect({ A: llm.count(promptA(region)), C: llm.count(promptC(region)) }, `${region}: LLM calls per step`).toEqual({ A: 1, C: 1 });
    }
    expect(llm.requests).toHaveLength(2 * RUNS);
    const [left] = await queryRows<{ runs: number; success: number; running_steps: number; attestations: number }>(
      pg.database.db,
      sql`SELECT (SELECT count(*) FROM dag_runs)::int AS runs, (SELECT count(*) FROM dag_runs WHERE status = 'success')::int AS success,
                 (SELECT count(*) FROM dag_step_runs WHERE status = 'RUNNING')::int AS running_steps,
                 (SELECT count(*) FROM compute_attestations)::int AS attestations`,
    );
    expect(left).toEqual({ runs: RUNS, success: RUNS, running_steps: 0, attestations: RUNS });
  }, 240_000);

  it('map steps in the storm: each item is attested once, a racing resume runs each task item once, and no (run, step, item, attempt) exists twice', async () => {
    const urls = servers.map((s) => s.baseUrl);
    const samples = ['s0', 's1', 's2'];
    const stored = await api(urls[0]!, 'POST', '/api/manifests', {
      name: 'storm-map',
      steps: [
        { key: 'B', step_type: 'compute', for_each: 'inputs.samples', compute_contract: { executor: 'lab', inputs: [], outputs: ['forecast_csv'], verification: 'operator_attest' } },
        { key: 'C', depends_on: ['B'], for_each: 'inputs.samples', model: 'openai:m', prompt: 'map C for {{inputs.region}} item {{item}}' },
      ],
    });
    expect(stored.status).toBe(201);
    const regions = Array.from({ length: 10 }, (_, i) => `map-storm-${i}`);
    const outcomes = await Promise.all(
      regions.map(async (region, i) => {
        const run = await api(urls[i % 3]!, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region, samples } });
        expect(run.body.status).toBe('waiting');
        const waits = run.body.waiting_on as Array<{ step_run_id: string; item_index: number }>;
        // Every item's attest to two servers at once, then every resume to all three.
        const attests = await Promise.all(
          waits.flatMap((wait) => [0, 1].map((k) => api(urls[(i + k) % 3]!, 'POST', `/api/runs/${run.body.id}/steps/${wait.step_run_id}/attest`, attestation(region)))),
        );
        const resumes = await Promise.all(urls.map((server) => api(server, 'POST', `/api/runs/${run.body.id}/resume`)));
        return { region, runId: run.body.id as string, attests, resumes };
      }),
    );
    for (const { region, runId, attests, resumes } of outcomes) {
      expect(attests.map((a) => a.status).sort(), region).toEqual([201, 201, 201, 409, 409, 409]);
      expect(resumes.map((r) => r.status).sort(), region).toEqual([200, 409, 409]);
      const shown = (await api(urls[0]!, 'GET', `/api/runs/${runId}`)).body;
      expect(shown.status).toBe('success');
      expect(shown.step_runs.map((s: { step_key: string; item_index: number; attempt: number; status: string }) => `${s.step_key}[${s.item_index}]${s.attempt}:${s.status}`)).toEqual([
        'B[0]1:SUCCESS',
        'B[1]1:SUCCESS',
        'B[2]1:SUCCESS',
        'C[0]1:SUCCESS',
        'C[1]1:SUCCESS',
        'C[2]1:SUCCESS',
      ]);
      for (const sample of samples) expect(llm.count(`map C for ${region} item ${sample}`), `${region} ${sample}`).toBe(1);
    }
    const [duplicates] = await queryRows<{ n: number }>(
      pg.database.db,
      sql`SELECT count(*)::int AS n FROM (SELECT run_id, step_key, item_index, attempt FROM dag_step_runs GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d`,
    );
    expect(duplicates!.n).toBe(0);
  }, 240_000);
});
