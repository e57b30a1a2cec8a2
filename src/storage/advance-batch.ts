import { sql, type SQL } from 'drizzle-orm';
import type { Db, PreparedRunner } from './database.js';
import { queryPrepared } from './database.js';

/**
 * What the runner writes while it advances a run, batched into one statement per flush:
 * the outcome of the step that just ran, the compute steps it unblocked (parked), and the
 * start of the next task step (or the release of the run) go to the database together, as
 * data-modifying CTEs of a single statement — one round trip and one commit per task step.
 *
 * Every piece is guarded by `held`: the run exists, is `running` and is held by this
 * executor (or, for a new run, is inserted by this very statement). When `held` is empty
 * nothing is written and the flush reports it, so a process that lost its hold writes nothing.
 */

export interface PromptRecord {
  readonly template: string;
  readonly values: unknown;
  readonly messages: unknown;
  readonly error: unknown;
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

export type RunGuard =
  | { readonly kind: 'held'; readonly runId: string; readonly executorId: string }
  | { readonly kind: 'create'; readonly runId: string; readonly executorId: string; readonly manifestId: string; readonly inputs: unknown; readonly leaseMs: number };

export interface FlushResult {
  /** False when this executor does not hold the run: nothing was written. */
  readonly held: boolean;
  /** The task step run started (or retried) by this flush. */
  readonly started: { id: string; attempt: number } | undefined;
}

const json = (value: unknown): SQL => sql`${JSON.stringify(value ?? null)}::jsonb`;
const jsonOrNull = (value: unknown): SQL => (value === undefined ? sql`NULL` : json(value));
const secs = (ms: number): SQL => sql`make_interval(secs => ${ms / 1000})`;
const HELD = sql`EXISTS (SELECT 1 FROM held)`;

export class AdvanceBatch {
  private pieces: SQL[] = [];
  private records: string[] = [];
  private started: string | undefined;
  private runPiece: SQL | undefined;
  private counter = 0;

  constructor(private guard: RunGuard) {}

  private get runId(): string {
    return this.guard.runId;
  }

  private name(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  /** A compute step reached: its step run waits for attestation, started, not ended. */
  park(step: { manifestStepId: string; stepKey: string }): void {
    this.pieces.push(sql`${sql.raw(this.name('park'))} AS (
      INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt)
      SELECT ${this.runId}::uuid, ${step.manifestStepId}::uuid, ${step.stepKey}, 'WAITING_FOR_ATTESTATION', 1 WHERE ${HELD}
      ON CONFLICT (run_id, step_key) DO NOTHING RETURNING id)`);
  }

  /** A task step starts: its step run (RUNNING, attempt 1) and its PromptArtifact. */
  start(step: { manifestStepId: string; stepKey: string; prompt: PromptRecord }): void {
    const name = this.name('start');
    this.pieces.push(sql`${sql.raw(name)} AS (
      INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt)
      SELECT ${this.runId}::uuid, ${step.manifestStepId}::uuid, ${step.stepKey}, 'RUNNING', 1 WHERE ${HELD}
      ON CONFLICT (run_id, step_key) DO NOTHING RETURNING id, attempt)`);
    this.prompt(name, step.prompt);
    this.started = name;
  }

  /** A task step left RUNNING by a process that died mid-step starts again, as the next attempt. */
  retry(step: { stepRunId: string; attempt: number; prompt: PromptRecord }): void {
    const name = this.name('retry');
    this.pieces.push(sql`${sql.raw(name)} AS (
      UPDATE dag_step_runs SET attempt = attempt + 1, started_at = now()
      WHERE id = ${step.stepRunId} AND status = 'RUNNING' AND attempt = ${step.attempt} AND ${HELD}
      RETURNING id, attempt)`);
    this.prompt(name, step.prompt);
    this.started = name;
  }

  private prompt(from: string, prompt: PromptRecord): void {
    this.pieces.push(sql`${sql.raw(this.name('prompt'))} AS (
      INSERT INTO prompt_artifacts (step_run_id, attempt, template, values, messages, error)
      SELECT id, attempt, ${prompt.template}, ${json(prompt.values)}, ${jsonOrNull(prompt.messages)}, ${jsonOrNull(prompt.error)}
      FROM ${sql.raw(from)})`);
  }

  /**
   * A task step's outcome with its LLMCallArtifact (when a call was made) and
   * ParsedOutputArtifact (when a reply came back). SUCCESS stores the canonical output.
   */
  record(step: {
    stepRunId: string;
    attempt: number;
    call: CallRecord | undefined;
    parsed: ParsedRecord | undefined;
    outcome: { status: 'SUCCESS'; output: unknown } | { status: 'FAIL'; error: unknown };
  }): void {
    const name = this.name('rec');
    const set = step.outcome.status === 'SUCCESS' ? sql`status = 'SUCCESS', output = ${json(step.outcome.output)}` : sql`status = 'FAIL', error = ${json(step.outcome.error)}`;
    this.pieces.push(sql`${sql.raw(name)} AS (
      UPDATE dag_step_runs SET ${set}, ended_at = now()
      WHERE id = ${step.stepRunId} AND status = 'RUNNING' AND attempt = ${step.attempt} AND ${HELD}
      RETURNING id, attempt)`);
    const { call, parsed } = step;
    if (call) {
      this.pieces.push(sql`${sql.raw(this.name('call'))} AS (
        INSERT INTO llm_call_artifacts (step_run_id, attempt, provider, model, request, response, usage, latency_ms, tries, error)
        SELECT id, attempt, ${call.provider}, ${call.model}, ${json(call.request)}, ${json(call.response)}, ${json(call.usage)},
               ${Math.round(call.latencyMs)}, ${call.tries}, ${jsonOrNull(call.error)}
        FROM ${sql.raw(name)})`);
    }
    if (parsed) {
      this.pieces.push(sql`${sql.raw(this.name('parsed'))} AS (
        INSERT INTO parsed_output_artifacts (step_run_id, attempt, format, value, error)
        SELECT id, attempt, ${parsed.format}, ${parsed.error === undefined ? json(parsed.value) : sql`NULL`}, ${jsonOrNull(parsed.error)}
        FROM ${sql.raw(name)})`);
    }
    this.records.push(name);
  }

  /** Renews the run's lease once half of it is gone (most flushes write no dag_runs row). */
  renewLease(leaseMs: number): void {
    if (this.guard.kind === 'create') return;
    this.runPiece = sql`run AS (
      UPDATE dag_runs SET lease_expires_at = now() + ${secs(leaseMs)}, updated_at = now()
      WHERE id = ${this.runId} AND status = 'running' AND executor_id = ${this.guard.executorId}
        AND lease_expires_at < now() + ${secs(leaseMs / 2)})`;
  }

  /** Ends this executor's hold: `waiting` (compute steps wait) or `success`. */
  release(status: 'waiting' | 'success' | 'error', error?: unknown): void {
    this.runPiece = sql`run AS (
      UPDATE dag_runs SET status = ${status}, ended_at = ${status === 'waiting' ? sql`NULL` : sql`now()`}, error = ${status === 'error' ? json(error) : sql`NULL`},
             executor_id = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE id = ${this.runId} AND status = 'running' AND executor_id = ${this.guard.executorId})`;
  }

  /** A task step failed: the run ends in error, and compute steps still waiting are cancelled. */
  fail(error: unknown): void {
    this.release('error', error);
    this.pieces.push(sql`${sql.raw(this.name('cancel'))} AS (
      UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(), error = ${json({ message: 'the run ended in error before this step was attested' })}
      WHERE run_id = ${this.runId} AND status = 'WAITING_FOR_ATTESTATION' AND ${HELD})`);
  }

  /** Writes everything queued, in one statement. */
  async flush(db: Db, prepared?: PreparedRunner): Promise<FlushResult> {
    // A run inserted by this statement cannot also be updated by it: release it in a second one.
    if (this.guard.kind === 'create' && this.runPiece) {
      const runPiece = this.runPiece;
      this.runPiece = undefined;
      const first = await this.flush(db, prepared);
      if (!first.held) return first;
      this.runPiece = runPiece;
      const second = await this.flush(db, prepared);
      return { held: second.held, started: first.started };
    }
    const guard = this.guard;
    const held =
      guard.kind === 'create'
        ? sql`held AS (
            INSERT INTO dag_runs (id, manifest_id, status, inputs, started_at, executor_id, lease_expires_at)
            VALUES (${guard.runId}, ${guard.manifestId}, 'running', ${json(guard.inputs)}, now(), ${guard.executorId}, now() + ${secs(guard.leaseMs)})
            RETURNING id)`
        : sql`held AS (SELECT id FROM dag_runs WHERE id = ${guard.runId} AND status = 'running' AND executor_id = ${guard.executorId})`;
    const ctes = [held, ...this.pieces, ...(this.runPiece ? [this.runPiece] : [])];
    const recorded = this.records.length === 0 ? sql`0` : sql.join(this.records.map((name) => sql`(SELECT count(*) FROM ${sql.raw(name)})`), sql` + `);
    const started = this.started ? sql`(SELECT json_build_object('id', id, 'attempt', attempt) FROM ${sql.raw(this.started)})` : sql`NULL::json`;
    const expected = this.records.length;
    const statement = sql`WITH ${sql.join(ctes, sql`, `)} SELECT (SELECT count(*) FROM held)::int AS held, (${recorded})::int AS recorded, ${started} AS started`;
    type Row = { held: number; recorded: number; started: { id: string; attempt: number } | null };
    const [row] = await queryPrepared<Row>(db, prepared, statement);
    this.pieces = [];
    this.records = [];
    this.started = undefined;
    this.runPiece = undefined;
    this.counter = 0; // the same shape of batch gets the same text (and prepared statement)
    if (guard.kind === 'create') this.guard = { kind: 'held', runId: guard.runId, executorId: guard.executorId };
    const isHeld = row!.held > 0 && row!.recorded === expected;
    return { held: isHeld, started: row!.started ?? undefined };
  }
}
