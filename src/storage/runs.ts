import { and, asc, desc, eq, getTableColumns, inArray, lt, sql } from 'drizzle-orm';
import type { Page } from '../core/cursor.js';
import type { RunEvent } from '../core/events.js';
import type { AttestationRecord, RunListQuery, RunReads, RunRecord, RunRecordView, StepRunRecord, TaskEvidence } from '../core/run-reads.js';
import type { Db } from './database.js';
import { queryPrepared, queryRows, type PreparedRunner } from './database.js';
import { pendingAttestations, readyToResume, successfulOutputs } from './attestations.js';
import { cursorAt, pageOf } from './keyset.js';
import {
  computeArtifacts,
  computeAttestations,
  dagRuns,
  dagStepRuns,
  llmCallArtifacts,
  parsedOutputArtifacts,
  promptArtifacts,
} from './schema.js';
import { runUsageColumn, type RunUsageRow } from './run-usage.js';

/**
 * Reads of runs and step runs: the RunReads port (core/run-reads.ts). (Every write of a run's
 * state is a transition in storage/transitions/.)
 */
export function createRunReads(db: Db, prepared?: PreparedRunner): RunReads {
  return {
    run: (runId) => getRun(db, runId),
    runView: (runId) => getRunView(db, runId, prepared),
    listRuns: (query) => listRuns(db, query),
    stepRun: (runId, stepRunId) => getStepRun(db, runId, stepRunId),
    taskEvidence: (stepRunId) => taskArtifactsOf(db, stepRunId),
    taskEvidenceOf: (stepRunIds) => taskArtifactsOfMany(db, stepRunIds),
    eventsOf: (runIds) => eventsOf(db, runIds),
    attestations: (stepRunIds) => attestationsOf(db, stepRunIds),
    pending: (page) => pendingAttestations(db, page),
    successfulOutputs: (runIds) => successfulOutputs(db, runIds),
    readyToResume: (limit) => readyToResume(db, limit),
  };
}

/** `stalled`: `running` with an expired lease (its executor died or hangs); resume takes it over. */
const isStalled = sql<boolean>`(${dagRuns.status} = 'running' AND ${dagRuns.leaseExpiresAt} < now())`;
/**
 * `ready_to_resume`: `waiting`, and no wait left open: everything it waited on is attested.
 * Looked up for waiting runs only (CASE, not AND: the lookup is never made for the others).
 * `dag_runs.id` is written out: Drizzle renders a column of a one-table select unqualified,
 * and inside the subquery a bare "id" would be the step run's.
 */
const isReadyToResume = sql<boolean>`(CASE WHEN ${dagRuns.status} = 'waiting' THEN NOT EXISTS (
  SELECT 1 FROM dag_step_runs w WHERE w.run_id = dag_runs.id AND w.status = 'WAITING_FOR_ATTESTATION') ELSE false END)`;
const runColumns = { ...getTableColumns(dagRuns), stalled: isStalled, readyToResume: isReadyToResume };

export async function getRun(db: Db, runId: string): Promise<RunRecord | undefined> {
  const [row] = await db.select(runColumns).from(dagRuns).where(eq(dagRuns.id, runId));
  return row;
}

/**
 * Runs newest first, a page at a time: by keyset (`after`, the position of the last run of the
 * page before: an index scan that starts there) or, for compatibility, by offset (which reads
 * and skips every run before the page). Each order and filter has its index (migration 0010):
 * (created_at, id), (status, created_at, id), (manifest_id, created_at, id). One run more than
 * the page is read to know whether another page follows. The count is made only when asked.
 */
export async function listRuns(db: Db, query: RunListQuery): Promise<Page<RunRecord>> {
  const where = and(
    query.status === undefined ? undefined : query.status === 'stalled' ? isStalled : eq(dagRuns.status, query.status),
    query.statuses === undefined ? undefined : inArray(dagRuns.status, [...query.statuses]),
    query.endedBefore === undefined ? undefined : lt(dagRuns.endedAt, query.endedBefore),
    query.manifestId === undefined ? undefined : eq(dagRuns.manifestId, query.manifestId),
  );
  const page = and(where, query.after === undefined ? undefined : sql`(${dagRuns.createdAt}, ${dagRuns.id}) < (${query.after.at}::timestamptz, ${query.after.id}::uuid)`);
  const [rows, total] = await Promise.all([
    db
      .select({ ...getTableColumns(dagRuns), stalled: isStalled, cursorAt: cursorAt(dagRuns.createdAt) })
      .from(dagRuns)
      .where(page)
      .orderBy(desc(dagRuns.createdAt), desc(dagRuns.id))
      .limit(query.limit + 1)
      .offset(query.offset ?? 0),
    query.count ? db.$count(dagRuns, where) : undefined,
  ]);
  const open = await openWaits(db, rows.filter((run) => run.status === 'waiting').map((run) => run.id));
  return pageOf(rows, query.limit, total, ({ cursorAt: at, ...run }) => [{ ...run, readyToResume: run.status === 'waiting' && !open.has(run.id) }, { at, id: run.id }]);
}

/**
 * Which of these runs have a wait still open: `ready_to_resume` for a page of runs, looked up
 * for its waiting runs only (one probe of their step runs each). In the page's own query, the
 * planner hashed every waiting step run of the database for it instead: the whole backlog, on
 * every page.
 */
async function openWaits(db: Db, runIds: readonly string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const rows = await queryRows<{ run_id: string }>(
    db,
    sql`SELECT DISTINCT run_id FROM dag_step_runs WHERE run_id = ANY(${`{${runIds.join(',')}}`}::uuid[]) AND status = 'WAITING_FOR_ATTESTATION'`,
  );
  return new Set(rows.map((row) => row.run_id));
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
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  attested_seq: number;
  cancel_reason: string | null;
  updated_at: Date | string;
  stalled: boolean;
  ready_to_resume: boolean;
  usage: Array<Omit<RunUsageRow, 'prompt_tokens' | 'completion_tokens' | 'total_tokens'> & { prompt_tokens: number | string; completion_tokens: number | string; total_tokens: number | string }>;
  step_runs: Array<{
    id: string;
    manifest_step_id: string;
    step_key: string;
    item_index: number | null;
    item: unknown;
    status: string;
    attempt: number;
    started_at: string;
    ended_at: string | null;
    due_at: string | null;
    overdue: boolean;
    output: unknown;
    error: unknown;
    attestation: {
      id: string;
      outcome: string;
      notes: string | null;
      attested_by: string;
      attested_by_verified: boolean;
      token_id: string | null;
      attested_at: string;
      contract_snapshot: unknown;
      artifacts: Array<{ id: string; name: string; uri: string; sha256: string; bytes: number; verified: boolean; verification: string; created_at: string }>;
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
  prepared?: PreparedRunner,
): Promise<RunRecordView | undefined> {
  const [row] = await queryPrepared<RunViewRow>(
    db,
    prepared,
    sql`SELECT r.*, COALESCE((
          SELECT json_agg(json_build_object(
            'id', sr.id, 'manifest_step_id', sr.manifest_step_id, 'step_key', sr.step_key, 'item_index', sr.item_index, 'item', sr.item, 'status', sr.status,
            'attempt', sr.attempt, 'started_at', sr.started_at, 'ended_at', sr.ended_at, 'due_at', sr.due_at, 'overdue', COALESCE(sr.status = 'WAITING_FOR_ATTESTATION' AND sr.due_at < now(), false), 'output', sr.output, 'error', sr.error,
            'attestation', (
              SELECT json_build_object(
                'id', a.id, 'outcome', a.outcome, 'notes', a.notes, 'attested_by', a.attested_by, 'attested_by_verified', a.attested_by_verified, 'token_id', a.token_id, 'attested_at', a.attested_at,
                'contract_snapshot', a.contract_snapshot,
                'artifacts', COALESCE((
                  SELECT json_agg(json_build_object('id', x.id, 'name', x.name, 'uri', x.uri, 'sha256', x.sha256, 'bytes', x.bytes,
                                                    'verified', x.verified, 'verification', x.verification, 'created_at', x.created_at) ORDER BY x.name)
                  FROM compute_artifacts x WHERE x.attestation_id = a.id), '[]'::json))
              FROM compute_attestations a WHERE a.step_run_id = sr.id)
          ) ORDER BY sr.started_at, sr.attempt, sr.id)
          FROM dag_step_runs sr WHERE sr.run_id = r.id), '[]'::json) AS step_runs,
          ${runUsageColumn} AS usage,
          (r.status = 'running' AND r.lease_expires_at < now()) AS stalled,
          (r.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM dag_step_runs w WHERE w.run_id = r.id AND w.status = 'WAITING_FOR_ATTESTATION')) AS ready_to_resume
        FROM dag_runs r WHERE r.id = ${runId}`,
  );
  if (!row) return undefined;
  const run: RunRecord = {
    id: row.id,
    manifestId: row.manifest_id,
    status: row.status,
    inputs: row.inputs,
    error: row.error,
    createdAt: date(row.created_at),
    startedAt: maybeDate(row.started_at),
    endedAt: maybeDate(row.ended_at),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: maybeDate(row.lease_expires_at),
    attestedSeq: row.attested_seq,
    cancelReason: row.cancel_reason,
    stalled: row.stalled,
    readyToResume: row.ready_to_resume,
    updatedAt: date(row.updated_at),
  };
  const attestations = new Map<string, AttestationRecord>();
  const stepRuns = row.step_runs.map((s): StepRunRecord => {
    if (s.attestation) {
      const a = s.attestation;
      attestations.set(s.id, {
        id: a.id,
        stepRunId: s.id,
        outcome: a.outcome,
        notes: a.notes,
        attestedBy: a.attested_by,
        attestedByVerified: a.attested_by_verified,
        tokenId: a.token_id,
        attestedAt: date(a.attested_at),
        contractSnapshot: a.contract_snapshot,
        artifacts: a.artifacts.map((x) => ({ id: x.id, attestationId: a.id, name: x.name, uri: x.uri, sha256: x.sha256, bytes: Number(x.bytes), verified: x.verified, verification: x.verification, createdAt: date(x.created_at) })),
      });
    }
    return {
      id: s.id,
      runId: row.id,
      manifestStepId: s.manifest_step_id,
      stepKey: s.step_key,
      itemIndex: s.item_index,
      item: s.item,
      status: s.status,
      attempt: s.attempt,
      startedAt: date(s.started_at),
      endedAt: maybeDate(s.ended_at),
      dueAt: maybeDate(s.due_at),
      overdue: s.overdue,
      output: s.output,
      error: s.error,
    };
  });
  // json_build_object renders bigint as a JSON number; Number() also reads a driver's string.
  const usage = row.usage.map((u) => ({ ...u, prompt_tokens: Number(u.prompt_tokens), completion_tokens: Number(u.completion_tokens), total_tokens: Number(u.total_tokens) }));
  return { run, stepRuns, attestations, usage };
}

/** The attestations of some step runs, with their artifacts, by step run id. */
export async function attestationsOf(db: Db, stepRunIds: readonly string[]): Promise<Map<string, AttestationRecord>> {
  if (stepRunIds.length === 0) return new Map();
  const attestations = await db.select().from(computeAttestations).where(inArray(computeAttestations.stepRunId, [...stepRunIds]));
  if (attestations.length === 0) return new Map();
  const artifacts = await db
    .select()
    .from(computeArtifacts)
    .where(inArray(computeArtifacts.attestationId, attestations.map((a) => a.id)))
    .orderBy(asc(computeArtifacts.name));
  return new Map(attestations.map((a) => [a.stepRunId, { ...a, artifacts: artifacts.filter((x) => x.attestationId === a.id) }]));
}

export async function getStepRun(db: Db, runId: string, stepRunId: string): Promise<StepRunRecord | undefined> {
  const overdue = sql<boolean>`COALESCE(${dagStepRuns.status} = 'WAITING_FOR_ATTESTATION' AND ${dagStepRuns.dueAt} < now(), false)`;
  const [row] = await db.select({ ...getTableColumns(dagStepRuns), overdue }).from(dagStepRuns).where(and(eq(dagStepRuns.id, stepRunId), eq(dagStepRuns.runId, runId)));
  return row;
}

export async function taskArtifactsOf(db: Db, stepRunId: string): Promise<TaskEvidence> {
  const [prompts, calls, parsed] = await Promise.all([
    db.select().from(promptArtifacts).where(eq(promptArtifacts.stepRunId, stepRunId)).orderBy(asc(promptArtifacts.attempt)),
    db.select().from(llmCallArtifacts).where(eq(llmCallArtifacts.stepRunId, stepRunId)).orderBy(asc(llmCallArtifacts.attempt)),
    db.select().from(parsedOutputArtifacts).where(eq(parsedOutputArtifacts.stepRunId, stepRunId)).orderBy(asc(parsedOutputArtifacts.attempt)),
  ]);
  return { prompts, calls, parsed };
}


/** The evidence of many task step runs at once (an export's page), by step run id; three queries whatever their number. */
export async function taskArtifactsOfMany(db: Db, stepRunIds: readonly string[]): Promise<Map<string, TaskEvidence>> {
  const evidence = new Map<string, { prompts: unknown[]; calls: unknown[]; parsed: unknown[] }>(stepRunIds.map((id) => [id, { prompts: [], calls: [], parsed: [] }]));
  if (stepRunIds.length === 0) return evidence as Map<string, TaskEvidence>;
  // One array parameter, not one per id (SPEC §11: never near the driver's bind-parameter limit).
  const ids = `{${stepRunIds.join(',')}}`;
  const [prompts, calls, parsed] = await Promise.all([
    db.select().from(promptArtifacts).where(sql`${promptArtifacts.stepRunId} = ANY(${ids}::uuid[])`).orderBy(asc(promptArtifacts.stepRunId), asc(promptArtifacts.attempt)),
    db.select().from(llmCallArtifacts).where(sql`${llmCallArtifacts.stepRunId} = ANY(${ids}::uuid[])`).orderBy(asc(llmCallArtifacts.stepRunId), asc(llmCallArtifacts.attempt)),
    db.select().from(parsedOutputArtifacts).where(sql`${parsedOutputArtifacts.stepRunId} = ANY(${ids}::uuid[])`).orderBy(asc(parsedOutputArtifacts.stepRunId), asc(parsedOutputArtifacts.attempt)),
  ]);
  for (const row of prompts) evidence.get(row.stepRunId)?.prompts.push(row);
  for (const row of calls) evidence.get(row.stepRunId)?.calls.push(row);
  for (const row of parsed) evidence.get(row.stepRunId)?.parsed.push(row);
  return evidence as Map<string, TaskEvidence>;
}

/** Every event of some runs, in the record's order (docs/events.md), by run id (an export's page). */
export async function eventsOf(db: Db, runIds: readonly string[]): Promise<Map<string, RunEvent[]>> {
  const events = new Map<string, RunEvent[]>(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return events;
  const rows = await queryRows<RunEvent>(
    db,
    sql`SELECT e.id::text AS id, e.kind, e.run_id, e.step_key, e.step_run_id, e.item_index, e.attempt, e.status,
               CASE WHEN e.error_message IS NULL THEN NULL ELSE json_build_object('message', e.error_message) END AS error,
               to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
        FROM run_events e WHERE e.run_id = ANY(${`{${runIds.join(',')}}`}::uuid[]) ORDER BY e.run_id, e.tx_id, e.id`,
  );
  for (const row of rows) events.get(row.run_id)?.push(row);
  return events;
}
