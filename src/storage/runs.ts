import { and, asc, count, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryRows } from './database.js';
import {
  computeArtifacts,
  computeAttestations,
  dagRuns,
  dagStepRuns,
  llmCallArtifacts,
  manifestSteps,
  parsedOutputArtifacts,
  promptArtifacts,
} from './schema.js';

/**
 * Run and step-run queries. Every transition is one guarded statement: it names the status
 * it expects and (while a run is `running`) the executor holding the run, and returns the
 * rows it changed; zero rows means someone else got there first.
 */

export type RunRow = typeof dagRuns.$inferSelect;
export type StepRunRow = typeof dagStepRuns.$inferSelect;
export type AttestationRow = typeof computeAttestations.$inferSelect;
export type ComputeArtifactRow = typeof computeArtifacts.$inferSelect;

const json = (value: unknown): SQL => sql`${JSON.stringify(value ?? null)}::jsonb`;
const leaseUntil = (leaseMs: number): SQL => sql`now() + make_interval(secs => ${leaseMs / 1000})`;
/** True while `executorId` holds run `runId`. */
const holds = (runId: string, executorId: string): SQL =>
  sql`EXISTS (SELECT 1 FROM dag_runs WHERE id = ${runId} AND status = 'running' AND executor_id = ${executorId})`;

export async function insertRun(db: Db, run: { manifestId: string; inputs: unknown; executorId: string; leaseMs: number }): Promise<RunRow> {
  const [row] = await db
    .insert(dagRuns)
    .values({
      manifestId: run.manifestId,
      status: 'running',
      inputs: run.inputs,
      startedAt: sql`now()`,
      executorId: run.executorId,
      leaseExpiresAt: leaseUntil(run.leaseMs),
    })
    .returning();
  return row!;
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select().from(dagRuns).where(eq(dagRuns.id, runId));
  return row;
}

export async function listRuns(db: Db, page: { limit: number; offset: number; status?: string | undefined; manifestId?: string | undefined }) {
  const where = and(
    page.status === undefined ? undefined : eq(dagRuns.status, page.status),
    page.manifestId === undefined ? undefined : eq(dagRuns.manifestId, page.manifestId),
  );
  const [items, totals] = await Promise.all([
    db.select().from(dagRuns).where(where).orderBy(desc(dagRuns.createdAt), desc(dagRuns.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(dagRuns).where(where),
  ]);
  return { items, total: totals[0]?.n ?? 0 };
}

interface RunViewRow {
  id: string;
  manifest_id: string;
  status: string;
  inputs: unknown;
  error: unknown;
  created_at: Date | string;
  started_at: Date | string | null;
  ended_at: Date | string | null;
  executor_id: string | null;
  lease_expires_at: Date | string | null;
  updated_at: Date | string;
  step_runs: Array<{
    id: string;
    manifest_step_id: string;
    step_key: string;
    status: string;
    attempt: number;
    started_at: string;
    ended_at: string | null;
    output: unknown;
    error: unknown;
    attestation: {
      id: string;
      outcome: string;
      notes: string | null;
      attested_by: string;
      attested_at: string;
      contract_snapshot: unknown;
      artifacts: Array<{ id: string; name: string; uri: string; sha256: string; bytes: number; created_at: string }>;
    } | null;
  }>;
}

const date = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const maybeDate = (value: Date | string | null): Date | null => (value === null ? null : date(value));

/**
 * A run with its step runs, their attestations and artifacts, in one round trip (the API
 * answers this after every request that changes a run, and on every GET).
 */
export async function getRunView(
  db: Db,
  runId: string,
): Promise<{ run: RunRow; stepRuns: StepRunRow[]; attestations: Map<string, AttestationWithArtifacts> } | undefined> {
  const [row] = await queryRows<RunViewRow>(
    db,
    sql`SELECT r.*, COALESCE((
          SELECT json_agg(json_build_object(
            'id', sr.id, 'manifest_step_id', sr.manifest_step_id, 'step_key', sr.step_key, 'status', sr.status,
            'attempt', sr.attempt, 'started_at', sr.started_at, 'ended_at', sr.ended_at, 'output', sr.output, 'error', sr.error,
            'attestation', (
              SELECT json_build_object(
                'id', a.id, 'outcome', a.outcome, 'notes', a.notes, 'attested_by', a.attested_by, 'attested_at', a.attested_at,
                'contract_snapshot', a.contract_snapshot,
                'artifacts', COALESCE((
                  SELECT json_agg(json_build_object('id', x.id, 'name', x.name, 'uri', x.uri, 'sha256', x.sha256, 'bytes', x.bytes, 'created_at', x.created_at) ORDER BY x.name)
                  FROM compute_artifacts x WHERE x.attestation_id = a.id), '[]'::json))
              FROM compute_attestations a WHERE a.step_run_id = sr.id)
          ) ORDER BY sr.started_at, sr.id)
          FROM dag_step_runs sr WHERE sr.run_id = r.id), '[]'::json) AS step_runs
        FROM dag_runs r WHERE r.id = ${runId}`,
  );
  if (!row) return undefined;
  const run: RunRow = {
    id: row.id,
    manifestId: row.manifest_id,
    status: row.status,
    inputs: row.inputs,
    error: row.error,
    createdAt: date(row.created_at),
    startedAt: maybeDate(row.started_at),
    endedAt: maybeDate(row.ended_at),
    executorId: row.executor_id,
    leaseExpiresAt: maybeDate(row.lease_expires_at),
    updatedAt: date(row.updated_at),
  };
  const attestations = new Map<string, AttestationWithArtifacts>();
  const stepRuns = row.step_runs.map((s): StepRunRow => {
    if (s.attestation) {
      const a = s.attestation;
      attestations.set(s.id, {
        id: a.id,
        stepRunId: s.id,
        outcome: a.outcome,
        notes: a.notes,
        attestedBy: a.attested_by,
        attestedAt: date(a.attested_at),
        contractSnapshot: a.contract_snapshot,
        artifacts: a.artifacts.map((x) => ({ id: x.id, attestationId: a.id, name: x.name, uri: x.uri, sha256: x.sha256, bytes: Number(x.bytes), createdAt: date(x.created_at) })),
      });
    }
    return {
      id: s.id,
      runId: row.id,
      manifestStepId: s.manifest_step_id,
      stepKey: s.step_key,
      status: s.status,
      attempt: s.attempt,
      startedAt: date(s.started_at),
      endedAt: maybeDate(s.ended_at),
      output: s.output,
      error: s.error,
    };
  });
  return { run, stepRuns, attestations };
}

export async function stepRunsOf(db: Db, runId: string): Promise<StepRunRow[]> {
  return db.select().from(dagStepRuns).where(eq(dagStepRuns.runId, runId));
}

export interface AttestationWithArtifacts extends AttestationRow {
  readonly artifacts: ComputeArtifactRow[];
}

/** The attestations of some step runs, with their artifacts, by step run id. */
export async function attestationsOf(db: Db, stepRunIds: string[]): Promise<Map<string, AttestationWithArtifacts>> {
  if (stepRunIds.length === 0) return new Map();
  const attestations = await db.select().from(computeAttestations).where(inArray(computeAttestations.stepRunId, stepRunIds));
  if (attestations.length === 0) return new Map();
  const artifacts = await db
    .select()
    .from(computeArtifacts)
    .where(inArray(computeArtifacts.attestationId, attestations.map((a) => a.id)))
    .orderBy(asc(computeArtifacts.name));
  return new Map(attestations.map((a) => [a.stepRunId, { ...a, artifacts: artifacts.filter((x) => x.attestationId === a.id) }]));
}

export async function getStepRun(db: Db, runId: string, stepRunId: string): Promise<StepRunRow | undefined> {
  const [row] = await db.select().from(dagStepRuns).where(and(eq(dagStepRuns.id, stepRunId), eq(dagStepRuns.runId, runId)));
  return row;
}

export async function taskArtifactsOf(db: Db, stepRunId: string) {
  const [prompts, calls, parsed] = await Promise.all([
    db.select().from(promptArtifacts).where(eq(promptArtifacts.stepRunId, stepRunId)).orderBy(asc(promptArtifacts.attempt)),
    db.select().from(llmCallArtifacts).where(eq(llmCallArtifacts.stepRunId, stepRunId)).orderBy(asc(llmCallArtifacts.attempt)),
    db.select().from(parsedOutputArtifacts).where(eq(parsedOutputArtifacts.stepRunId, stepRunId)).orderBy(asc(parsedOutputArtifacts.attempt)),
  ]);
  return { prompts, calls, parsed };
}

export async function manifestStepOf(db: Db, manifestStepId: string) {
  const [row] = await db.select().from(manifestSteps).where(eq(manifestSteps.id, manifestStepId));
  return row;
}

// ---------------------------------------------------------------------------------------
// Transitions made while advancing a run (the executor holds the run's lease)

/** The rendered messages, or why the prompt could not be rendered. */
export interface PromptRecord {
  readonly template: string;
  readonly values: unknown;
  readonly messages: unknown;
  readonly error: unknown;
}

const promptColumns = (prompt: PromptRecord): SQL =>
  sql`${prompt.template}, ${json(prompt.values)}, ${prompt.messages === undefined ? sql`NULL` : json(prompt.messages)}, ${prompt.error === undefined ? sql`NULL` : json(prompt.error)}`;

/**
 * Starts a task step: its step run (RUNNING, attempt 1) and its PromptArtifact, in one
 * statement. Undefined when the executor no longer holds the run or the step run exists.
 */
export async function startTaskStep(
  db: Db,
  step: { runId: string; manifestStepId: string; stepKey: string; executorId: string; prompt: PromptRecord },
): Promise<{ id: string; attempt: number } | undefined> {
  const [row] = await queryRows<{ id: string; attempt: number }>(
    db,
    sql`WITH step AS (
          INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt)
          SELECT ${step.runId}, ${step.manifestStepId}, ${step.stepKey}, 'RUNNING', 1
          WHERE ${holds(step.runId, step.executorId)}
          ON CONFLICT (run_id, step_key) DO NOTHING
          RETURNING id, attempt
        ), prompt AS (
          INSERT INTO prompt_artifacts (step_run_id, attempt, template, values, messages, error)
          SELECT id, attempt, ${promptColumns(step.prompt)} FROM step
        )
        SELECT id, attempt FROM step`,
  );
  return row;
}

/**
 * Starts the next attempt of a task step left RUNNING by a process that died mid-step
 * (SPEC §6: the repeat is counted and visible).
 */
export async function retryTaskStep(
  db: Db,
  step: { runId: string; stepRunId: string; attempt: number; executorId: string; prompt: PromptRecord },
): Promise<{ id: string; attempt: number } | undefined> {
  const [row] = await queryRows<{ id: string; attempt: number }>(
    db,
    sql`WITH step AS (
          UPDATE dag_step_runs SET attempt = attempt + 1, started_at = now()
          WHERE id = ${step.stepRunId} AND status = 'RUNNING' AND attempt = ${step.attempt}
            AND ${holds(step.runId, step.executorId)}
          RETURNING id, attempt
        ), prompt AS (
          INSERT INTO prompt_artifacts (step_run_id, attempt, template, values, messages, error)
          SELECT id, attempt, ${promptColumns(step.prompt)} FROM step
        )
        SELECT id, attempt FROM step`,
  );
  return row;
}

export interface CallRecord {
  readonly provider: string;
  readonly model: string;
  readonly request: unknown;
  readonly response: unknown;
  readonly usage: unknown;
  readonly latencyMs: number;
  readonly tries: number;
  readonly error: unknown;
}

export interface ParsedRecord {
  readonly format: 'text' | 'json';
  readonly value: unknown;
  readonly error: unknown;
}

/**
 * Records a task step's LLMCallArtifact (when a call was made), its ParsedOutputArtifact
 * (when a reply came back) and its outcome, in one statement guarded by the run's lease
 * (renewed once half of it has passed).
 * SUCCESS stores the canonical output; FAIL stores the error. False when the lease was lost.
 */
export async function recordTaskStep(
  db: Db,
  step: {
    runId: string;
    stepRunId: string;
    stepKey: string;
    attempt: number;
    executorId: string;
    leaseMs: number;
    call: CallRecord | undefined;
    parsed: ParsedRecord | undefined;
    outcome: { status: 'SUCCESS'; output: unknown } | { status: 'FAIL'; error: unknown };
  },
): Promise<boolean> {
  const { call, parsed, outcome } = step;
  const runUpdate =
    outcome.status === 'SUCCESS'
      ? // The lease is renewed only once half of it is gone: most steps write no dag_runs row.
        sql`SELECT id FROM dag_runs WHERE id = ${step.runId} AND status = 'running' AND executor_id = ${step.executorId}
            ), renewed AS (
              UPDATE dag_runs SET lease_expires_at = ${leaseUntil(step.leaseMs)}, updated_at = now()
              WHERE id = ${step.runId} AND status = 'running' AND executor_id = ${step.executorId}
                AND lease_expires_at < now() + make_interval(secs => ${step.leaseMs / 2000})`
      : sql`UPDATE dag_runs SET status = 'error', ended_at = now(), error = ${json({ step_key: step.stepKey, step_run_id: step.stepRunId, message: `step ${step.stepKey} failed` })},
              executor_id = NULL, lease_expires_at = NULL, updated_at = now()
            WHERE id = ${step.runId} AND status = 'running' AND executor_id = ${step.executorId} RETURNING id`;
  const stepUpdate =
    outcome.status === 'SUCCESS'
      ? sql`status = 'SUCCESS', output = ${json(outcome.output)}`
      : sql`status = 'FAIL', error = ${json(outcome.error)}`;
  const rows = await queryRows<{ id: string }>(
    db,
    sql`WITH run AS (${runUpdate}),
        step AS (
          UPDATE dag_step_runs SET ${stepUpdate}, ended_at = now()
          WHERE id = ${step.stepRunId} AND status = 'RUNNING' AND attempt = ${step.attempt} AND EXISTS (SELECT 1 FROM run)
          RETURNING id, attempt
        ), cancelled AS (
          UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(), error = ${json({ message: 'the run ended in error before this step was attested' })}
          WHERE run_id = ${step.runId} AND status = 'WAITING_FOR_ATTESTATION' AND ${outcome.status === 'FAIL'} AND EXISTS (SELECT 1 FROM step)
        ), call AS (
          INSERT INTO llm_call_artifacts (step_run_id, attempt, provider, model, request, response, usage, latency_ms, tries, error)
          SELECT id, attempt, ${call?.provider ?? ''}, ${call?.model ?? ''}, ${json(call?.request)}, ${json(call?.response)}, ${json(call?.usage)},
                 ${Math.round(call?.latencyMs ?? 0)}, ${call?.tries ?? 0}, ${call?.error === undefined ? sql`NULL` : json(call.error)}
          FROM step WHERE ${call !== undefined}
        ), parsed AS (
          INSERT INTO parsed_output_artifacts (step_run_id, attempt, format, value, error)
          SELECT id, attempt, ${parsed?.format ?? 'text'}, ${parsed && parsed.error === undefined ? json(parsed.value) : sql`NULL`},
                 ${parsed && parsed.error !== undefined ? json(parsed.error) : sql`NULL`}
          FROM step WHERE ${parsed !== undefined}
        )
        SELECT id FROM step`,
  );
  return rows.length > 0;
}

/** Parks a compute step: its step run WAITING_FOR_ATTESTATION, started, not ended. */
export async function parkComputeStep(db: Db, step: { runId: string; manifestStepId: string; stepKey: string; executorId: string }): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt)
        SELECT ${step.runId}, ${step.manifestStepId}, ${step.stepKey}, 'WAITING_FOR_ATTESTATION', 1
        WHERE ${holds(step.runId, step.executorId)}
        ON CONFLICT (run_id, step_key) DO NOTHING
        RETURNING id`,
  );
  return rows.length > 0;
}

/** Ends this executor's hold on a run: `waiting` (compute steps wait), `success`, or `error`. */
export async function releaseRun(
  db: Db,
  run: { runId: string; executorId: string; status: 'waiting' | 'success' | 'error'; error?: unknown },
): Promise<RunRow | undefined> {
  const [row] = await db
    .update(dagRuns)
    .set({
      status: run.status,
      endedAt: run.status === 'waiting' ? null : sql`now()`,
      error: run.status === 'error' ? (run.error ?? null) : null,
      executorId: null,
      leaseExpiresAt: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(dagRuns.id, run.runId), eq(dagRuns.status, 'running'), eq(dagRuns.executorId, run.executorId)))
    .returning();
  return row;
}
