import { and, asc, count, desc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryPrepared, type PreparedRunner } from './database.js';
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
 * Reads of runs and step runs. (Every write of a run's state is a transition in
 * storage/transitions/.)
 */

/** A run as read: its row, and what is derived from it at read time, by the database's clock. */
export type RunRow = typeof dagRuns.$inferSelect & { readonly stalled: boolean; readonly readyToResume: boolean };
export type StepRunRow = typeof dagStepRuns.$inferSelect & { readonly overdue: boolean };
export type AttestationRow = typeof computeAttestations.$inferSelect;
export type ComputeArtifactRow = typeof computeArtifacts.$inferSelect;

/** `stalled`: `running` with an expired lease (its executor died or hangs); resume takes it over. */
const isStalled = sql<boolean>`(${dagRuns.status} = 'running' AND ${dagRuns.leaseExpiresAt} < now())`;
/** `ready_to_resume`: `waiting`, and no wait left open: everything it waited on is attested. */
const isReadyToResume = sql<boolean>`(${dagRuns.status} = 'waiting' AND NOT EXISTS (
  SELECT 1 FROM dag_step_runs w WHERE w.run_id = ${dagRuns.id} AND w.status = 'WAITING_FOR_ATTESTATION'))`;
const runColumns = { ...getTableColumns(dagRuns), stalled: isStalled, readyToResume: isReadyToResume };

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select(runColumns).from(dagRuns).where(eq(dagRuns.id, runId));
  return row;
}

export async function listRuns(db: Db, page: { limit: number; offset: number; status?: string | undefined; manifestId?: string | undefined }) {
  const where = and(
    page.status === undefined ? undefined : page.status === 'stalled' ? isStalled : eq(dagRuns.status, page.status),
    page.manifestId === undefined ? undefined : eq(dagRuns.manifestId, page.manifestId),
  );
  const [items, totals] = await Promise.all([
    db.select(runColumns).from(dagRuns).where(where).orderBy(desc(dagRuns.createdAt), desc(dagRuns.id)).limit(page.limit).offset(page.offset),
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
): Promise<{ run: RunRow; stepRuns: StepRunRow[]; attestations: Map<string, AttestationWithArtifacts>; usage: RunUsageRow[] } | undefined> {
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
  const run: RunRow = {
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
  const overdue = sql<boolean>`COALESCE(${dagStepRuns.status} = 'WAITING_FOR_ATTESTATION' AND ${dagStepRuns.dueAt} < now(), false)`;
  const [row] = await db.select({ ...getTableColumns(dagStepRuns), overdue }).from(dagStepRuns).where(and(eq(dagStepRuns.id, stepRunId), eq(dagStepRuns.runId, runId)));
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

