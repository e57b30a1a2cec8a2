import type { RunStatus, StepRunStatus } from './lifecycle.js';

/**
 * The port through which the engine changes a run's state (SPEC §9). Each method is one
 * transition of core/lifecycle.ts; storage/transitions/ implements it for PostgreSQL and
 * PGlite, each as one guarded statement that locks the run row first. A second store would
 * implement this interface; nothing here names a driver or an ORM type.
 */
export interface RunStore {
  /**
   * The runner's writes since its last flush, as one statement fenced by its lease. `audit`, the
   * request's audit row, is appended by the same statement when its `release`/`drop-lease` takes
   * effect (the request's last write), and only then.
   */
  flush(guard: RunnerGuard, writes: readonly RunnerWrite[], audit?: AuditRecord): Promise<FlushResult>;
  /** A `waiting` run, or a stalled one (`running`, lease expired: take-over), for a resume. */
  claimResume(claim: Claim): Promise<ClaimedRun | undefined>;
  /** An `error` run, for a retry. */
  claimRetry(claim: Claim): Promise<ClaimedRun | undefined>;
  /** The step runs of a run this executor holds, after someone else attested one of them. */
  readStepRuns(runId: string): Promise<{ attestedSeq: number; stepRuns: StepRunState[] }>;
  /** Extends the lease; undefined when this executor no longer holds the run. */
  renewLease(claim: Claim): Promise<{ status: RunStatus; attestedSeq: number } | undefined>;
  /** Waits whose `due_at` passed end FAIL ("deadline passed"); returns their step keys. */
  expireOverdue(runId: string, owner: string): Promise<string[]>;
  /** After an unexpected failure: the run is left stalled at once, for a resume to take over. */
  handBack(runId: string, owner: string): Promise<void>;
  /** `audit` is appended by the same statement when the attestation is (`attested`). */
  attest(input: AttestationInput, audit?: AuditRecord): Promise<AttestOutcome>;
  /** `audit` is appended by the same statement when the run is cancelled (`cancelled`). */
  cancel(runId: string, reason: string | null, audit?: AuditRecord): Promise<CancelOutcome>;
}

/**
 * One row of the audit log (SPEC §10): a state-changing request, who made it and what it was
 * answered. The engine hands it to the write that makes the request's change, so that the
 * change and its row commit together (engine/audit.ts).
 */
export interface AuditRecord {
  /** The token's name; null without a valid token (or with authentication off). */
  readonly actor: string | null;
  readonly tokenId: string | null;
  /** `METHOD /route/:pattern`. */
  readonly action: string;
  readonly target: string;
  /** The HTTP status answered. */
  readonly outcome: number;
  /** The problem code of a refusal. */
  readonly code: string | null;
  readonly requestId: string;
  readonly address: string | null;
}

export interface Claim {
  readonly runId: string;
  readonly owner: string;
  readonly leaseMs: number;
}

export interface StepRunState {
  readonly id: string;
  readonly stepKey: string;
  /** A map step's item (SPEC §17), from 0; null for an ordinary step (or a map step settled without items). */
  readonly itemIndex: number | null;
  readonly status: StepRunStatus;
  readonly attempt: number;
  readonly output: unknown;
  readonly error: unknown;
  readonly dueAt: Date | null;
}

export interface ClaimedRun {
  readonly id: string;
  readonly manifestId: string;
  readonly inputs: unknown;
  /** As of the same snapshot as `stepRuns`, so the two agree. */
  readonly attestedSeq: number;
  /** Every attempt of every step, in no particular order. */
  readonly stepRuns: StepRunState[];
}

export type RunnerGuard =
  | { readonly kind: 'held'; readonly runId: string; readonly owner: string }
  | {
      readonly kind: 'create';
      readonly runId: string;
      readonly owner: string;
      readonly manifestId: string;
      readonly inputs: unknown;
      readonly leaseMs: number;
    };

export interface PromptRecord {
  readonly template: string;
  /** The step's system prompt template, if any; the rendered system message is the first of `messages`. */
  readonly systemTemplate?: string | null | undefined;
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

/**
 * What a runner writes. New work (`start`, `restart`, `park`) and `release` carry the
 * attestation count the runner decided them under (`seenSeq`) and are written only while the
 * run is `running` and no attestation came in since (so a decision made on a state that an
 * attestation or a cancel has changed meanwhile is refused by the database, however many
 * steps are in flight); `finish` is written while the executor holds the lease, also on a run
 * cancelled meanwhile (the step in flight is recorded); `drop-lease` ends its hold on a
 * cancelled run.
 */
export type RunnerWrite =
  | ({ readonly kind: 'park'; readonly deadline: string | undefined; readonly seenSeq: number } & NewStepRun)
  | ({ readonly kind: 'start'; readonly prompt: PromptRecord; readonly seenSeq: number } & NewStepRun)
  /**
   * A step run that ends as it begins, with no call and no attestation: a map step whose list
   * is empty (SUCCESS, `[]`), or is not a list or has too many items (FAIL).
   */
  | ({
      readonly kind: 'settle';
      readonly outcome: { readonly status: 'SUCCESS'; readonly output: unknown } | { readonly status: 'FAIL'; readonly error: unknown };
      readonly seenSeq: number;
    } & Omit<NewStepRun, 'item'>)
  | { readonly kind: 'restart'; readonly stepRunId: string; readonly attempt: number; readonly prompt: PromptRecord; readonly seenSeq: number }
  | {
      readonly kind: 'finish';
      readonly stepRunId: string;
      readonly stepKey: string;
      readonly itemIndex: number | null;
      readonly attempt: number;
      readonly call: CallRecord | undefined;
      readonly parsed: ParsedRecord | undefined;
      /** `CANCELLED`: the call was aborted because the run was cancelled while it was in flight. */
      readonly outcome:
        | { readonly status: 'SUCCESS'; readonly output: unknown }
        | { readonly status: 'FAIL'; readonly error: unknown }
        | { readonly status: 'CANCELLED'; readonly error: unknown };
    }
  | { readonly kind: 'release'; readonly status: 'waiting' | 'success' | 'error'; readonly error?: unknown; readonly seenSeq: number }
  | { readonly kind: 'drop-lease' };

/** The step run a `start`, `park` or `settle` inserts: one attempt of a step, or of one item of a map step. */
export interface NewStepRun {
  readonly manifestStepId: string;
  readonly stepKey: string;
  readonly attempt: number;
  /** The item's position in a map step's list; null for an ordinary step. */
  readonly itemIndex: number | null;
  /** The item itself (null for an ordinary step). */
  readonly item: unknown;
}

/** A task step run that a flush's `start` or `restart` began. */
export interface StartedStepRun {
  readonly id: string;
  readonly stepKey: string;
  readonly itemIndex: number | null;
  readonly attempt: number;
}

export interface FlushResult {
  /** False when this executor does not hold the run (any more): nothing was written. */
  readonly held: boolean;
  /** The run's status and attestation count as of this flush (null when not held). */
  readonly status: RunStatus | null;
  readonly attestedSeq: number;
  /** The task step runs that the flush's `start`/`restart` writes began (none that were refused). */
  readonly started: readonly StartedStepRun[];
  /** Whether `release`/`drop-lease` took effect. */
  readonly released: boolean;
}

export interface ArtifactInput {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Digest verification at attest time (core/provenance/verification.ts). */
  readonly verified: boolean;
  readonly verification: string;
}

export interface AttestationInput {
  readonly runId: string;
  readonly stepRunId: string;
  readonly outcome: 'SUCCESS' | 'FAIL';
  readonly notes: string | null;
  readonly attestedBy: string;
  /** The token it was made with; null (attested_by not verified) only with authentication off. */
  readonly tokenId: string | null;
  readonly contractSnapshot: unknown;
  readonly artifacts: readonly ArtifactInput[];
  /** The step's canonical output on SUCCESS (`{ outcome, notes, artifacts }`). */
  readonly output: unknown;
}

export type AttestOutcome =
  | { readonly kind: 'attested'; readonly attestationId: string }
  | { readonly kind: 'already-attested' }
  | { readonly kind: 'refused'; readonly runStatus: RunStatus | null; readonly stepStatus: StepRunStatus | null; readonly overdue: boolean };

export type CancelOutcome =
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'final'; readonly status: RunStatus };
