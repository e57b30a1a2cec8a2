import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { startGatedLlm, type GatedLlm } from './support/gated-llm.js';
import { postgresForProcesses, type SharedPostgres } from './support/postgres-for-processes.js';
import { api } from './support/server-process.js';
import { startTranspiledServer, transpileSources, type KillableServer, type TranspiledSources } from './support/transpiled-server.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * SPEC §6, §9: a real server process is killed with SIGKILL at each named point of a run, 10
 * times per point, in the start path (step A, inside POST /api/runs), the resume path (step C,
 * after B was attested) and the attest path (B). One recovery process, with no fault armed,
 * then brings every run to `success`: no SUCCESS step runs again, an interrupted step calls
 * the LLM at most once more, as attempt 2 (visible in the run and its prompt artifacts), no
 * run is left stuck and no step run RUNNING. LLM calls are counted at a local
 * OpenAI-compatible server, per step and run (the prompt names both).
 */

const DIGEST = 'c'.repeat(64);
const LEASE_MS = '1000';
// Each death is at a named point, so a repetition finds what the first one does unless timing
// matters (the runs in flight beside it, the lease, five processes at a time): 10 a point
// covers every path at every point; 20 cost CI about a minute on each Node.
const PER_POINT = 10;
const PARALLEL = 5;
const manifest = {
  name: 'crash-campaign',
  steps: [
    { key: 'A', model: 'openai:m', prompt: 'A for {{inputs.region}}' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: ['assumptions'], outputs: ['forecast_csv'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'C for {{inputs.region}} after {{steps.A.output}} and {{steps.B.artifacts.forecast_csv.uri}}' },
  ],
};
const promptA = (region: string) => `A for ${region}`;
const promptC = (region: string) => `C for ${region} after a-of-${region} and file:///data/${region}.csv`;
const attestation = (region: string) => ({ outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'forecast_csv', uri: `file:///data/${region}.csv`, sha256: DIGEST, bytes: 42 }] });

/** Where the process dies: a named fault point (it kills itself there), or `during` the LLM call (the test kills it). */
type Point = 'afterPromptBeforeLlm' | 'during' | 'afterLlmBeforeCommit' | 'beforeAttest' | 'afterAttest';
type Path = 'start' | 'resume' | 'attest';
interface Figures {
  runs: number;
  kills: number;
  extraCalls: number;
  maxAttempt: number;
  seconds: number;
}

const url = testPostgresUrl();

describe('[postgres] a crash campaign of real server processes', () => {
  let sources: TranspiledSources;
  let pg: SharedPostgres;
  let llm: GatedLlm;
  let recovery: KillableServer;
  let manifestId: string;
  let env: Record<string, string>;
  /** Prompts whose first request the LLM server holds until its client dies. */
  const held = new Set<string>();
  const table = new Map<Point, Figures>();
  /** Every doomed process, so that one left alive by a failed assertion is killed at the end. */
  const doomedServers: KillableServer[] = [];

  beforeAll(async () => {
    sources = transpileSources();
    pg = await postgresForProcesses(url);
    llm = await startGatedLlm((prompt, nth) => (held.has(prompt) && nth === 1 ? { hold: true } : { reply: prompt.startsWith('A for ') ? `a-of-${prompt.slice(6)}` : 'memo' }));
    env = { DATABASE_URL: pg.url, OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'k', STEPGATE_RUN_LEASE_MS: LEASE_MS };
    recovery = await startTranspiledServer(sources, env);
    const stored = await api(recovery.baseUrl, 'POST', '/api/manifests', manifest);
    expect(stored.status).toBe(201);
    manifestId = stored.body.id;
  }, 180_000);

  afterAll(async () => {
    const rows = [...table].map(([point, f]) => `${point.padEnd(22)}${String(f.runs).padStart(5)}${String(f.kills).padStart(6)}${String(f.extraCalls).padStart(10)}${String(f.maxAttempt).padStart(12)}${f.seconds.toFixed(0).padStart(9)}`);
    console.log(['crash campaign        runs kills extra LLM max attempt  seconds', ...rows].join('\n'));
    await Promise.all(doomedServers.map((server) => server.kill()));
    if (recovery) expect(await recovery.stop()).toBe(0);
    await llm?.close();
    await pg?.close();
    sources?.remove();
  });

  /** Creates a run on the recovery server, waiting at B; with `attestB`, attests B too. */
  async function waitingRun(region: string, attestB: boolean): Promise<{ runId: string; bId: string }> {
    const run = await api(recovery.baseUrl, 'POST', '/api/runs', { manifest_id: manifestId, inputs: { region } });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    expect(run.body.status).toBe('waiting');
    const bId = run.body.waiting_on[0].step_run_id as string;
    if (attestB) expect((await api(recovery.baseUrl, 'POST', `/api/runs/${run.body.id}/steps/${bId}/attest`, attestation(region))).status).toBe(201);
    return { runId: run.body.id, bId };
  }

  async function untilStalled(runId: string) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const shown = await api(recovery.baseUrl, 'GET', `/api/runs/${runId}`);
      if (shown.body.stalled) return shown.body;
      expect(shown.body.status, `run ${runId} while its dead executor's lease lasts`).toBe('running');
      if (Date.now() > deadline) throw new Error(`run ${runId} never showed stalled: ${JSON.stringify(shown.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * One process dies at `point` with the given runs in flight (one run when the process kills
   * itself at a fault point; several, each held in its LLM call, when the test kills it
   * `during` the call); then the recovery process finishes every run. Answers each run's figures.
   */
  async function crashOnce(point: Point, path: Path, regions: string[]): Promise<Array<{ killed: boolean; extraCalls: number; maxAttempt: number }>> {
    const interrupted = path === 'start' ? 'A' : path === 'resume' ? 'C' : 'B';
    const heldPrompt = (region: string) => (interrupted === 'A' ? promptA(region) : promptC(region));
    if (point === 'during') for (const region of regions) held.add(heldPrompt(region));
    // The runs to resume or attest are made ready by the recovery process while the doomed one starts.
    const [before, doomed] = await Promise.all([
      path === 'start' ? [] : Promise.all(regions.map((region) => waitingRun(region, path === 'resume'))),
      startTranspiledServer(sources, point === 'during' ? env : { ...env, STEPGATE_FAULT: point }).then((server) => {
        doomedServers.push(server);
        return server;
      }),
    ]);
    const answered = regions.map((region, i) => {
      const request =
        path === 'start'
          ? api(doomed.baseUrl, 'POST', '/api/runs', { manifest_id: manifestId, inputs: { region } })
          : path === 'resume'
            ? api(doomed.baseUrl, 'POST', `/api/runs/${before[i]!.runId}/resume`)
            : api(doomed.baseUrl, 'POST', `/api/runs/${before[i]!.runId}/steps/${before[i]!.bId}/attest`, attestation(region));
      return request.then(
        (r) => r,
        () => undefined,
      );
    });
    if (point === 'during') {
      await Promise.all(regions.map((region) => llm.arrival((prompt) => prompt === heldPrompt(region))));
      await doomed.kill();
    }
    for (const [i, reply] of (await Promise.all(answered)).entries()) {
      expect(reply, `${regions[i]}: the process answered instead of dying at ${point}; it printed:\n${doomed.output()}`).toBeUndefined();
    }
    const exit = await doomed.exited;
    expect(exit.signal, `${regions}: the process must die by SIGKILL at ${point}; it printed:\n${doomed.output()}`).toBe('SIGKILL');
    return Promise.all(regions.map(async (region, i) => ({ killed: i === 0, ...(await recover(point, path, region, before[i]?.bId)) })));
  }

  /** The recovery process brings one interrupted run to success; checks it and answers its figures. */
  async function recover(point: Point, path: Path, region: string, bId: string | undefined): Promise<{ extraCalls: number; maxAttempt: number }> {
    const interrupted = path === 'start' ? 'A' : path === 'resume' ? 'C' : 'B';
    const [row] = await queryRows<{ id: string }>(pg.database.db, sql`SELECT id FROM dag_runs WHERE inputs->>'region' = ${region}`);
    const runId = row!.id;
    let view;
    if (path === 'attest') {
      const left = (await api(recovery.baseUrl, 'GET', `/api/runs/${runId}`)).body;
      expect(left, `${region}: an interrupted attest leaves the run waiting, not stalled`).toMatchObject({ status: 'waiting', stalled: false, ready_to_resume: point === 'afterAttest' });
      const again = await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/steps/${bId}/attest`, attestation(region));
      expect(again.status, `${region}: attesting again after a death ${point}`).toBe(point === 'beforeAttest' ? 201 : 409);
      view = await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/resume`);
    } else {
      await untilStalled(runId);
      view = await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/resume`);
      expect(view.status, `${region}: ${JSON.stringify(view.body)}`).toBe(200);
      if (path === 'start') {
        expect(view.body.status).toBe('waiting');
        const waiting = view.body.waiting_on[0].step_run_id;
        expect((await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/steps/${waiting}/attest`, attestation(region))).status).toBe(201);
        view = await api(recovery.baseUrl, 'POST', `/api/runs/${runId}/resume`);
      }
    }
    expect(view.status, `${region}: ${JSON.stringify(view.body)}`).toBe(200);
    const run = view.body as { status: string; step_runs: Array<{ id: string; step_key: string; status: string; attempt: number }> };
    expect(run.status, region).toBe('success');
    const retried = interrupted !== 'B';
    expect(run.step_runs.map((s) => `${s.step_key}${s.attempt}:${s.status}`).sort(), region).toEqual(
      ['A', 'B', 'C'].map((key) => `${key}${retried && key === interrupted ? 2 : 1}:SUCCESS`),
    );

    // LLM calls per step: exactly one for every step that was not in flight; the step in
    // flight repeats its call only if the dead process had made it.
    const repeated = point === 'during' || point === 'afterLlmBeforeCommit' ? 1 : 0;
    const calls = { A: llm.count(promptA(region)), C: llm.count(promptC(region)) };
    expect(calls, `${region}: LLM calls per step`).toEqual({ A: interrupted === 'A' ? 1 + repeated : 1, C: interrupted === 'C' ? 1 + repeated : 1 });
    if (retried) {
      const stepRun = run.step_runs.find((s) => s.step_key === interrupted)!;
      const detail = (await api(recovery.baseUrl, 'GET', `/api/runs/${runId}/steps/${stepRun.id}`)).body;
      expect(detail.artifacts.prompts.map((p: { attempt: number }) => p.attempt), `${region}: prompt artifacts`).toEqual([1, 2]);
      expect(detail.artifacts.llm_calls.map((c: { attempt: number }) => c.attempt), `${region}: recorded calls`).toEqual([2]);
    }
    const [attestations] = await queryRows<{ n: number }>(pg.database.db, sql`SELECT count(*)::int AS n FROM compute_attestations a JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ${runId}`);
    expect(attestations!.n, `${region}: attestations`).toBe(1);
    return { extraCalls: calls.A + calls.C - 2, maxAttempt: Math.max(...run.step_runs.map((s) => s.attempt)) };
  }

  /**
   * Runs the PER_POINT deaths of a point, PARALLEL processes at a time, and records its figures. A
   * process that kills itself at a fault point carries one run; one that the test kills
   * during the LLM call carries `perProcess` runs, all held in their calls.
   */
  async function campaign(point: Point, paths: Path[], perProcess = 1) {
    const jobs = Array.from({ length: PER_POINT / perProcess }, (_, i) => {
      const path = paths[i % paths.length]!;
      return { path, regions: Array.from({ length: perProcess }, (_, j) => `${point}-${path}-${i * perProcess + j}`) };
    });
    const results: Array<{ killed: boolean; extraCalls: number; maxAttempt: number }> = [];
    const began = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!;
          results.push(...(await crashOnce(point, job.path, job.regions)));
        }
      }),
    );
    table.set(point, {
      runs: results.length,
      kills: results.filter((r) => r.killed).length,
      extraCalls: results.reduce((sum, r) => sum + r.extraCalls, 0),
      maxAttempt: Math.max(...results.map((r) => r.maxAttempt)),
      seconds: (performance.now() - began) / 1000,
    });
    const [left] = await queryRows<{ stuck: number; running: number }>(
      pg.database.db,
      sql`SELECT (SELECT count(*) FROM dag_runs WHERE inputs->>'region' LIKE ${`${point}-%`} AND status <> 'success')::int AS stuck,
                 (SELECT count(*) FROM dag_step_runs s JOIN dag_runs r ON r.id = s.run_id WHERE r.inputs->>'region' LIKE ${`${point}-%`} AND s.status = 'RUNNING')::int AS running`,
    );
    expect(left, `${point}: runs not success, step runs left RUNNING`).toEqual({ stuck: 0, running: 0 });
    const [count] = await queryRows<{ n: number }>(pg.database.db, sql`SELECT count(*)::int AS n FROM dag_runs WHERE inputs->>'region' LIKE ${`${point}-%`}`);
    expect(count!.n).toBe(PER_POINT);
  }

  it('recovers every run killed after the prompt was written, before the LLM call (A in POST /api/runs, C in resume), with no extra call', async () => {
    await campaign('afterPromptBeforeLlm', ['start', 'resume']);
  }, 300_000);

  it('recovers every run killed while the LLM server holds its call (five runs in flight per process), repeating that call once, as attempt 2', async () => {
    await campaign('during', ['start', 'resume'], 5);
  }, 300_000);

  it('recovers every run killed after the LLM answered, before the answer was written, repeating that call once, as attempt 2', async () => {
    await campaign('afterLlmBeforeCommit', ['start', 'resume']);
  }, 300_000);

  it('recovers every run whose attest died before it was written: the attestation is made again, then the run resumes', async () => {
    await campaign('beforeAttest', ['attest']);
  }, 300_000);

  it('recovers every run whose attest died after it was committed: a second attest is refused, and the run resumes', async () => {
    await campaign('afterAttest', ['attest']);
  }, 300_000);
});
