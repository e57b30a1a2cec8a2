import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { api, startServer } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';
import { testPostgresUrl } from './support/test-postgres.js';

const DIGEST = 'b'.repeat(64);
const manifest = {
  name: 'processes',
  steps: [
    { key: 'A', model: 'openai:m', prompt: 'assumptions for {{inputs.region}}' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: ['assumptions'], outputs: ['forecast_csv'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'memo for {{inputs.region}} on {{steps.A.output}} from {{steps.B.artifacts.forecast_csv.uri}}' },
  ],
};
const attestation = (region: string) => ({
  outcome: 'SUCCESS',
  attested_by: 'ana',
  artifacts: [{ name: 'forecast_csv', uri: `file:///data/${region}.csv`, sha256: DIGEST, bytes: 42 }],
});

/** Both databases, each as real server processes would see it. */
const targets: Array<{ name: string; setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> }> = [
  {
    name: 'pglite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'stepgate-proc-'));
      return { env: { STEPGATE_DATA_DIR: migratedDataDir(dir) }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];
const url = testPostgresUrl();
targets.push({
  name: 'postgres',
  async setup() {
    const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    return { env: { DATABASE_URL: withDatabase(url, name) }, cleanup: () => adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  },
});

/** Prompts the protocol server saw, per region and step. */
const promptsFor = (llm: ChatCompletionsServer, prefix: string) =>
  llm.requests.map((r) => (r.body.messages as Array<{ content: string }>)[0]!.content).filter((content) => content.startsWith(prefix));

for (const target of targets) {
  describe(`[${target.name}] real server processes`, () => {
    let llm: ChatCompletionsServer;
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      llm = await startChatCompletionsServer({ reply: 'growth 3%' });
      ({ env, cleanup } = await target.setup());
      // Process races, not access: authentication off (test/serve.* covers it with real processes).
      env = { ...env, OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'k', STEPGATE_AUTH: 'off' };
    });
    afterAll(async () => {
      await llm.close();
      await cleanup();
    });

    it('attests, stops, and resumes in a new process with the upstream outputs read back from the database', async () => {
      const first = await startServer(env);
      let runId: string;
      try {
        const stored = await api(first.baseUrl, 'POST', '/api/manifests', manifest);
        expect(stored.status).toBe(201);
        const run = await api(first.baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region: 'restart' } });
        expect(run.body.status).toBe('waiting');
        runId = run.body.id;
        const b = run.body.waiting_on[0].step_run_id;
        expect((await api(first.baseUrl, 'POST', `/api/runs/${runId}/steps/${b}/attest`, attestation('restart'))).status).toBe(201);
      } finally {
        expect(await first.stop()).toBe(0);
      }

      const second = await startServer(env);
      try {
        const resumed = await api(second.baseUrl, 'POST', `/api/runs/${runId}/resume`);
        expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
        expect(resumed.body.status).toBe('success');
        expect(promptsFor(llm, 'memo for restart')).toEqual(['memo for restart on growth 3% from file:///data/restart.csv']);
      } finally {
        expect(await second.stop()).toBe(0);
      }
    });

    // Several API processes share one server only on PostgreSQL (PGlite is one process per directory).
    if (target.name === 'postgres') it('lets two server processes race resumes of the same runs without duplicates', async () => {
      const servers = await Promise.all([startServer(env), startServer(env)]);
      try {
        const [one, two] = servers.map((s) => s.baseUrl) as [string, string];
        const stored = await api(one, 'POST', '/api/manifests', manifest);
        const regions = ['r1', 'r2', 'r3', 'r4'];
        const runs = await Promise.all(
          regions.map(async (region, i) => {
            const run = await api(i % 2 ? two : one, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region } });
            const b = run.body.waiting_on[0].step_run_id;
            expect((await api(i % 2 ? one : two, 'POST', `/api/runs/${run.body.id}/steps/${b}/attest`, attestation(region))).status).toBe(201);
            return run.body.id as string;
          }),
        );
        const attempts = runs.flatMap((runId) => Array.from({ length: 10 }, (_, i) => ({ runId, server: i % 2 ? one : two })));
        const results = await Promise.all(attempts.map(async ({ runId, server }) => ({ runId, ...(await api(server, 'POST', `/api/runs/${runId}/resume`)) })));
        for (const [i, runId] of runs.entries()) {
          const mine = results.filter((r) => r.runId === runId);
          expect(mine.filter((r) => r.status === 200), `run ${runId}`).toHaveLength(1);
          expect(mine.filter((r) => r.status === 409)).toHaveLength(9);
          const shown = await api(one, 'GET', `/api/runs/${runId}`);
          expect(shown.body.status).toBe('success');
          expect(shown.body.step_runs.map((s: { step_key: string; attempt: number }) => `${s.step_key}${s.attempt}`)).toEqual(['A1', 'B1', 'C1']);
          expect(promptsFor(llm, `memo for ${regions[i]} `)).toHaveLength(1);
        }
      } finally {
        for (const server of servers) expect(await server.stop()).toBe(0);
      }
    });
  });
}
