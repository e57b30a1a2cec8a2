import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { startGatedLlm, type GatedLlm } from './support/gated-llm.js';
import { postgresForProcesses, type SharedPostgres } from './support/postgres-for-processes.js';
import { api } from './support/server-process.js';
import { testPostgresUrl } from './support/test-postgres.js';
import { startTranspiledServer, transpileSources, type KillableServer, type TranspiledSources } from './support/transpiled-server.js';

/**
 * SPEC §15: a server process killed with SIGKILL while several steps of a run are RUNNING.
 * After the take-over every step is SUCCESS once, each interrupted step ran again as its
 * next attempt, no call was made more than once more per crash, and nothing is left
 * RUNNING. Real processes on PostgreSQL; calls counted at a local OpenAI-compatible server.
 */

const SECTIONS = ['s1', 's2', 's3', 's4', 's5'];
const manifest = {
  name: 'crash-fan-out',
  steps: [
    { key: 'plan', model: 'openai:m', prompt: 'plan for {{inputs.region}}' },
    ...SECTIONS.map((key) => ({ key, depends_on: ['plan'], model: 'openai:m', prompt: `${key} for {{inputs.region}}` })),
    { key: 'merge', depends_on: SECTIONS, model: 'openai:m', prompt: 'merge for {{inputs.region}}' },
  ],
};

const url = testPostgresUrl();

describe('[postgres] a server killed with several steps in flight', () => {
  let sources: TranspiledSources;
  let pg: SharedPostgres;
  let llm: GatedLlm;
  let recovery: KillableServer;
  let manifestId: string;
  let env: Record<string, string>;
  /** Regions whose sections' first calls the LLM server holds until their client dies. */
  const held = new Set<string>();
  const doomed: KillableServer[] = [];

  beforeAll(async () => {
    sources = transpileSources();
    pg = await postgresForProcesses(url);
    llm = await startGatedLlm((prompt, nth) => ({ ...(held.has(prompt.split(' for ')[1]!) && /^s\d/.test(prompt) && nth === 1 ? { hold: true as const } : { reply: `done: ${prompt}` }) }));
    env = { DATABASE_URL: pg.url, OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'k', STEPGATE_RUN_LEASE_MS: '1000', STEPGATE_AUTH: 'off' };
    recovery = await startTranspiledServer(sources, env);
    const stored = await api(recovery.baseUrl, 'POST', '/api/manifests', manifest);
    expect(stored.status).toBe(201);
    manifestId = stored.body.id;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(doomed.map((server) => server.kill()));
    if (recovery) expect(await recovery.stop()).toBe(0);
    await llm?.close();
    await pg?.close();
    sources?.remove();
  });

  async function recoverAndCheck(region: string, repeated: (key: string) => number) {
    const [row] = await queryRows<{ id: string }>(pg.database.db, sql`SELECT id FROM dag_runs WHERE inputs->>'region' = ${region}`);
    const runId = row!.id;
    const running = await queryRows<{ step_key: string }>(pg.database.db, sql`SELECT step_key FROM dag_step_runs WHERE run_id = ${runId} AND status = 'RUNNING' ORDER BY step_key`);
    expect(running.map((r) => r.step_key), `${region}: the sections were all in flight when the process died`).toEqual(SECTIONS);
    for (;;) {
      const shown = await api(recovery.baseUrl, 'GET', `/api/runs/${runId}`);
      if (shown.body.stalled) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const done = await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/resume`);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.status).toBe('success');
    expect(done.body.step_runs.map((s: { step_key: string; status: string; attempt: number }) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual([
      'plan:SUCCESS:1',
      ...SECTIONS.map((key) => `${key}:SUCCESS:2`),
      'merge:SUCCESS:1',
    ]);
    for (const key of ['plan', ...SECTIONS, 'merge']) {
      expect(llm.count(`${key} for ${region}`), `${region}: calls of ${key}`).toBe(1 + repeated(key));
    }
    const [left] = await queryRows<{ n: number }>(pg.database.db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE run_id = ${runId} AND status = 'RUNNING'`);
    expect(left!.n).toBe(0);
  }

  it('killed while five calls are held: each section runs again once, as attempt 2', async () => {
    const regions = ['held-1', 'held-2'];
    for (const region of regions) held.add(region);
    const server = await startTranspiledServer(sources, env);
    doomed.push(server);
    const answers = regions.map((region) => api(server.baseUrl, 'POST', '/api/runs', { manifest_id: manifestId, inputs: { region } }).catch(() => undefined));
    await Promise.all(regions.flatMap((region) => SECTIONS.map((key) => llm.arrival((prompt) => prompt === `${key} for ${region}`))));
    await server.kill();
    expect(await Promise.all(answers)).toEqual([undefined, undefined]);
    for (const region of regions) await recoverAndCheck(region, (key) => (SECTIONS.includes(key) ? 1 : 0));
  }, 120_000);
});
