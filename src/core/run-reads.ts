import type { Page, Position } from './cursor.js';
import type { RunEvent } from './events.js';
import type { ArtifactInput, CallRecord } from './run-store.js';

/**
 * The port through which the engine reads runs (SPEC §7, §9): a run with its step runs and
 * their evidence, the list of runs, the inbox. storage/run-reads.ts implements it for
 * PostgreSQL and PGlite; writes go through the RunStore port (core/run-store.ts). Nothing here
 * names a driver or an ORM type.
 *
 * Every list reads a bounded number of rows whatever the size of the record: it pages by a
 * keyset position (core/cursor.ts), counts only when asked, and the inbox reads the waiting
 * rows only.
 */

/** A run as read, with what is derived from it at read time by the database's clock. */
export interface RunRecord {
  readonly id: string;
  readonly manifestId: string;
  readonly status: string;
  readonly inputs: unknown;
  readonly error: unknown;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly endedAt: Date | null;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly attestedSeq: number;
  readonly cancelReason: string | null;
  readonly updatedAt: Date;
  /** `running` with an expired lease: its executor died or hangs; a resume takes it over. */
  readonly stalled: boolean;
  /** `waiting`, and no wait is left open: everything it waited on is attested. */
  readonly readyToResume: boolean;
}

export interface StepRunRecord {
  readonly id: string;
  readonly runId: string;
  readonly manifestStepId: string;
  readonly stepKey: string;
  /** A map step's item (SPEC §17), from 0; null for an ordinary step. */
  readonly itemIndex: number | null;
  /** The item itself (the list's element); null for an ordinary step. */
  readonly item: unknown;
  readonly status: string;
  readonly attempt: number;
  readonly startedAt: Date;
  readonly endedAt: Date | null;
  readonly dueAt: Date | null;
  /** Waiting, and `due_at` has passed. */
  readonly overdue: boolean;
  readonly output: unknown;
  readonly error: unknown;
}

/** An artifact as attested (its name, address, digest and verification), as stored. */
export interface ComputeArtifactRecord extends ArtifactInput {
  readonly id: string;
  readonly attestationId: string;
  readonly createdAt: Date;
}

export interface AttestationRecord {
  readonly id: string;
  readonly stepRunId: string;
  readonly outcome: string;
  readonly notes: string | null;
  readonly attestedBy: string;
  readonly attestedByVerified: boolean;
  readonly tokenId: string | null;
  readonly attestedAt: Date;
  readonly contractSnapshot: unknown;
  readonly artifacts: readonly ComputeArtifactRecord[];
}

/** Tokens of a run's LLM calls for one provider and model (SPEC §16), retries included. */
export interface RunUsageRecord {
  readonly provider: string;
  readonly model: string;
  /** LLM calls recorded (one per attempt of a task step; a retried step's attempts all count). */
  readonly calls: number;
  /** HTTP requests those calls took (a call's own retries included). */
  readonly tries: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  /** Calls whose provider reported no usage (counted as 0 tokens above). */
  readonly calls_without_usage: number;
}

/** A run with its step runs (every attempt, in no particular order), their attestations by step run id, and its token usage. */
export interface RunRecordView {
  readonly run: RunRecord;
  readonly stepRuns: StepRunRecord[];
  readonly attestations: Map<string, AttestationRecord>;
  readonly usage: readonly RunUsageRecord[];
}

/** The evidence of a task step run, one row per attempt, in attempt order. */
export interface TaskEvidence {
  readonly prompts: ReadonlyArray<{
    readonly attempt: number;
    readonly createdAt: Date;
    readonly template: string;
    /** The step's system prompt template (SPEC §16), when it has one. */
    readonly systemTemplate: string | null;
    readonly values: unknown;
    readonly messages: unknown;
    readonly error: unknown;
  }>;
  /** The LLMCallArtifacts: what the runner recorded of each call (core/run-store.ts), with its attempt. */
  readonly calls: ReadonlyArray<CallRecord & { readonly attempt: number; readonly createdAt: Date }>;
  readonly parsed: ReadonlyArray<{ readonly attempt: number; readonly createdAt: Date; readonly format: string; readonly value: unknown; readonly error: unknown }>;
}

export interface RunListQuery {
  readonly limit: number;
  /** Keyset paging: the rows after this position. */
  readonly after?: Position | undefined;
  /** Offset paging (kept for compatibility; it reads and skips every row before the page). */
  readonly offset?: number | undefined;
  /** A status, or `stalled` (running with an expired lease). */
  readonly status?: string | undefined;
  readonly manifestId?: string | undefined;
  /** Only runs with one of these statuses (an export). */
  readonly statuses?: readonly string[] | undefined;
  /** Only runs that ended before this time (an export). */
  readonly endedBefore?: Date | undefined;
  /** Count every matching run (reads all of them: only when asked). */
  readonly count?: boolean | undefined;
}

/** A step run waiting for attestation, with what the operator needs to do the work. */
export interface PendingRecord {
  readonly stepRunId: string;
  readonly runId: string;
  readonly stepKey: string;
  /** A map step's item (SPEC §17); null for an ordinary step. */
  readonly itemIndex: number | null;
  readonly item: unknown;
  readonly startedAt: Date;
  readonly dueAt: Date | null;
  readonly overdue: boolean;
  readonly attempt: number;
  readonly manifestId: string;
  readonly manifestName: string;
  readonly manifestVersion: number;
  readonly computeContract: unknown;
  readonly dependsOn: readonly string[];
  readonly runInputs: unknown;
}

export interface ReadyRecord {
  readonly runId: string;
  readonly manifestId: string;
  readonly manifestName: string;
  readonly manifestVersion: number;
  readonly updatedAt: Date;
}

export interface RunReads {
  run(runId: string): Promise<RunRecord | undefined>;
  /** A run with its step runs, their attestations and artifacts (one round trip). */
  runView(runId: string): Promise<RunRecordView | undefined>;
  /** Runs newest first (created_at, then id, descending). */
  listRuns(query: RunListQuery): Promise<Page<RunRecord>>;
  /** One step run of a run; undefined when the run has no such step run. */
  stepRun(runId: string, stepRunId: string): Promise<StepRunRecord | undefined>;
  taskEvidence(stepRunId: string): Promise<TaskEvidence>;
  /** The evidence of many task step runs at once, by step run id. */
  taskEvidenceOf(stepRunIds: readonly string[]): Promise<Map<string, TaskEvidence>>;
  /** Every event of some runs, in id order, by run id. */
  eventsOf(runIds: readonly string[]): Promise<Map<string, RunEvent[]>>;
  /** The attestations of some step runs, with their artifacts, by step run id. */
  attestations(stepRunIds: readonly string[]): Promise<Map<string, AttestationRecord>>;
  /** Step runs waiting for attestation: overdue first (earliest due first), then oldest first; `total` is the number waiting. */
  pending(page: { limit: number; offset: number }): Promise<{ items: PendingRecord[]; total: number }>;
  /** The SUCCESS step runs of some runs (each item of a map step its own), with their canonical outputs. */
  successfulOutputs(runIds: readonly string[]): Promise<Array<{ id: string; runId: string; stepKey: string; itemIndex: number | null; attempt: number; output: unknown; stepType: string | null }>>;
  /** Waiting runs with no wait left open, most recently changed first. */
  readyToResume(limit: number): Promise<ReadyRecord[]>;
}
