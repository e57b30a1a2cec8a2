import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { App } from '../../src/http/app.js';
import { queryRows, type Database } from '../../src/storage/database.js';
import type { RunJson, StepRunJson } from '../../src/cli/api-types.js';
import { postManifest } from './http.js';

export type { RunJson, StepRunJson } from '../../src/cli/api-types.js';

/** Stores a manifest (object or YAML text) and answers its id. */
export async function storeManifest(app: App, manifest: unknown): Promise<string> {
  const response = typeof manifest === 'string' ? await postManifest(app, manifest, 'application/yaml') : await postManifest(app, manifest);
  expect([200, 201], response.body).toContain(response.statusCode);
  return response.json().id as string;
}

export async function startRun(app: App, manifestId: string, inputs: Record<string, unknown> = {}): Promise<RunJson> {
  const response = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId, inputs } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as RunJson;
}

export function stepOf(run: RunJson, key: string): StepRunJson | undefined {
  return run.step_runs.find((s) => s.step_key === key);
}

/** Rows of each task artifact table for one step run. */
export async function artifactCounts(database: Database, stepRunId: string) {
  const [row] = await queryRows<{ prompts: number; calls: number; parsed: number }>(
    database.db,
    sql`SELECT (SELECT count(*) FROM prompt_artifacts WHERE step_run_id = ${stepRunId})::int AS prompts,
               (SELECT count(*) FROM llm_call_artifacts WHERE step_run_id = ${stepRunId})::int AS calls,
               (SELECT count(*) FROM parsed_output_artifacts WHERE step_run_id = ${stepRunId})::int AS parsed`,
  );
  return row!;
}

export const DIGEST = 'a'.repeat(64);

export function attest(app: App, runId: string, stepRunId: string, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: `/api/runs/${runId}/steps/${stepRunId}/attest`, payload: body });
}

export function resume(app: App, runId: string) {
  return app.inject({ method: 'POST', url: `/api/runs/${runId}/resume` });
}

/** Row counts that a refused request must leave unchanged. */
export async function snapshot(database: Database) {
  const [row] = await queryRows<Record<string, number>>(
    database.db,
    sql`SELECT (SELECT count(*) FROM compute_attestations)::int AS attestations,
               (SELECT count(*) FROM compute_artifacts)::int AS artifacts,
               (SELECT count(*) FROM dag_step_runs)::int AS step_runs,
               (SELECT string_agg(status, ',' ORDER BY id) FROM dag_step_runs) AS step_statuses,
               (SELECT string_agg(status, ',' ORDER BY id) FROM dag_runs) AS run_statuses,
               (SELECT count(*) FROM llm_call_artifacts)::int AS llm_calls`,
  );
  return row!;
}
