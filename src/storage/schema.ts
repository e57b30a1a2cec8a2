import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const manifests = pgTable(
  'manifests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    version: integer('version').notNull().default(1),
    description: text('description'),
    document: jsonb('document').notNull(),
    contentHash: text('content_hash').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('manifests_name_version_key').on(t.name, t.version),
    check('manifests_version_check', sql`${t.version} >= 1`),
  ],
);

export const manifestSteps = pgTable(
  'manifest_steps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    manifestId: uuid('manifest_id')
      .notNull()
      .references(() => manifests.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    position: integer('position').notNull(),
    dependsOn: text('depends_on').array().notNull().default(sql`'{}'::text[]`),
    prompt: text('prompt'),
    /** The step's optional system prompt template (SPEC §16); task steps only. */
    system: text('system'),
    model: text('model'),
    params: jsonb('params'),
    output: jsonb('output'),
    // Compute substrate (migration 0001). NULL step_type means "task", as SPEC §1 says.
    stepType: text('step_type'),
    computeContract: jsonb('compute_contract'),
    /** A map step's list (SPEC §17): `inputs.<path>` or `steps.<X>.output[.<path>]`; NULL for an ordinary step. */
    forEach: text('for_each'),
  },
  (t) => [
    unique('manifest_steps_manifest_id_key_key').on(t.manifestId, t.key),
    unique('manifest_steps_manifest_id_position_key').on(t.manifestId, t.position),
    check('manifest_steps_step_type_check', sql`${t.stepType} IS NULL OR ${t.stepType} IN ('task', 'compute')`),
    check(
      'manifest_steps_contract_iff_compute',
      sql`(${t.computeContract} IS NOT NULL) = (${t.stepType} IS NOT DISTINCT FROM 'compute')`,
    ),
    check(
      'manifest_steps_prompt_on_task',
      sql`${t.prompt} IS NOT NULL OR ${t.stepType} IS NOT DISTINCT FROM 'compute'`,
    ),
    check('manifest_steps_system_on_task', sql`${t.system} IS NULL OR ${t.stepType} IS DISTINCT FROM 'compute'`),
  ],
);

export const dagRuns = pgTable(
  'dag_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    manifestId: uuid('manifest_id')
      .notNull()
      .references(() => manifests.id),
    status: text('status').notNull(),
    inputs: jsonb('inputs').notNull().default(sql`'{}'::jsonb`),
    error: jsonb('error'),
    createdAt: ts('created_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    endedAt: ts('ended_at'),
    // Who is executing the run and until when (SPEC §6, §9): set while `running` (and kept on a
    // run cancelled under a live runner until that runner records its step in flight), renewed
    // by the executor while it works; a `running` run whose lease expired is stalled.
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: ts('lease_expires_at'),
    // Counts attestations of this run's step runs: a runner about to park compares it with the
    // value it started from, so an attestation made meanwhile is never a lost wake-up (§9).
    attestedSeq: integer('attested_seq').notNull().default(0),
    cancelReason: text('cancel_reason'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('dag_runs_status_check', sql`${t.status} IN ('pending', 'running', 'waiting', 'success', 'error', 'cancelled')`),
    check(
      'dag_runs_ended_at_iff_terminal',
      sql`(${t.endedAt} IS NOT NULL) = (${t.status} IN ('success', 'error', 'cancelled'))`,
    ),
    check('dag_runs_lease_pair', sql`(${t.leaseOwner} IS NULL) = (${t.leaseExpiresAt} IS NULL)`),
    check('dag_runs_running_has_lease', sql`${t.status} <> 'running' OR ${t.leaseOwner} IS NOT NULL`),
    check('dag_runs_lease_only_running_or_cancelled', sql`${t.leaseOwner} IS NULL OR ${t.status} IN ('running', 'cancelled')`),
    check('dag_runs_error_only_on_error', sql`${t.error} IS NULL OR ${t.status} = 'error'`),
    check('dag_runs_cancel_reason_only_on_cancelled', sql`${t.cancelReason} IS NULL OR ${t.status} = 'cancelled'`),
    check('dag_runs_attested_seq_check', sql`${t.attestedSeq} >= 0`),
    // The runs list's order (newest first: created_at, id) and each of its filters (migration
    // 0010, docs/api-lists.md): every page is an index scan from its cursor.
    index('dag_runs_created_at_id_idx').on(t.createdAt, t.id),
    index('dag_runs_status_created_at_id_idx').on(t.status, t.createdAt, t.id),
    index('dag_runs_manifest_id_created_at_id_idx').on(t.manifestId, t.createdAt, t.id),
    // The inbox's runs ready to resume: waiting, and attested at least once (a run with no
    // attestation still waits on something). created_at, not updated_at: an index on a column
    // every transition changes would make every lease renewal a non-HOT update.
    index('dag_runs_waiting_attested_idx')
      .on(t.createdAt)
      .where(sql`${t.status} = 'waiting' AND ${t.attestedSeq} > 0`),
  ],
);

export const dagStepRuns = pgTable(
  'dag_step_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id')
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    manifestStepId: uuid('manifest_step_id')
      .notNull()
      .references(() => manifestSteps.id),
    stepKey: text('step_key').notNull(),
    status: text('status').notNull(),
    attempt: integer('attempt').notNull().default(1),
    startedAt: ts('started_at').notNull().defaultNow(),
    endedAt: ts('ended_at'),
    output: jsonb('output'),
    error: jsonb('error'),
    /** A waiting compute step's deadline: started_at + compute_contract.deadline (SPEC §9). */
    dueAt: ts('due_at'),
    /** A map step's item (SPEC §17): its position in the list, from 0; NULL for an ordinary step. */
    itemIndex: integer('item_index'),
    /** The item itself, as it was when its step run began (the list's element); NULL for an ordinary step. */
    item: jsonb('item'),
  },
  (t) => [
    // One row per attempt (of a step, or of one item of a map step): a retry adds attempt + 1
    // and leaves the failed row as it was. Two partial indexes, so that NULL (not an item)
    // counts as one value on every PostgreSQL version.
    uniqueIndex('dag_step_runs_run_id_step_key_attempt_key').on(t.runId, t.stepKey, t.attempt).where(sql`${t.itemIndex} IS NULL`),
    uniqueIndex('dag_step_runs_run_id_step_key_item_index_attempt_key').on(t.runId, t.stepKey, t.itemIndex, t.attempt).where(sql`${t.itemIndex} IS NOT NULL`),
    check('dag_step_runs_item_index_check', sql`${t.itemIndex} >= 0`),
    check('dag_step_runs_item_iff_item_index', sql`(${t.itemIndex} IS NULL) = (${t.item} IS NULL)`),
    check(
      'dag_step_runs_status_check',
      sql`${t.status} IN ('RUNNING', 'SUCCESS', 'FAIL', 'WAITING_FOR_ATTESTATION', 'CANCELLED')`,
    ),
    check(
      'dag_step_runs_ended_at_iff_terminal',
      sql`(${t.endedAt} IS NOT NULL) = (${t.status} IN ('SUCCESS', 'FAIL', 'CANCELLED'))`,
    ),
    check('dag_step_runs_output_only_on_success', sql`${t.output} IS NULL OR ${t.status} = 'SUCCESS'`),
    check(
      'dag_step_runs_error_only_on_fail',
      sql`${t.error} IS NULL OR ${t.status} IN ('FAIL', 'CANCELLED')`,
    ),
    check('dag_step_runs_attempt_check', sql`${t.attempt} >= 1`),
    check('dag_step_runs_due_at_after_start', sql`${t.dueAt} IS NULL OR ${t.dueAt} >= ${t.startedAt}`),
    // The inbox reads the waiting rows only: in started_at order, and the overdue ones by due_at.
    index('dag_step_runs_waiting_idx')
      .on(t.startedAt)
      .where(sql`${t.status} = 'WAITING_FOR_ATTESTATION'`),
    index('dag_step_runs_waiting_due_at_idx')
      .on(t.dueAt)
      .where(sql`${t.status} = 'WAITING_FOR_ATTESTATION' AND ${t.dueAt} IS NOT NULL`),
    // One run's step runs, for every read and write of them (the runner's claim and reads, the
    // run view, its usage): the unique indexes above are partial (an item or not), so they
    // cannot serve `run_id = …` alone, and without this each of those scans every step run.
    index('dag_step_runs_run_id_idx').on(t.runId),
    // "Has this run a wait still open?" (ready_to_resume) from the waiting rows alone.
    index('dag_step_runs_waiting_run_id_idx')
      .on(t.runId)
      .where(sql`${t.status} = 'WAITING_FOR_ATTESTATION'`),
  ],
);

/** PromptArtifact: the rendered prompt of one attempt of a task step. */
export const promptArtifacts = pgTable(
  'prompt_artifacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    stepRunId: uuid('step_run_id')
      .notNull()
      .references(() => dagStepRuns.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    template: text('template').notNull(),
    /** The step's system prompt template, when it has one; the rendered system message is the first of `messages`. */
    systemTemplate: text('system_template'),
    values: jsonb('values').notNull(),
    messages: jsonb('messages'),
    error: jsonb('error'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('prompt_artifacts_step_run_id_attempt_key').on(t.stepRunId, t.attempt),
    check('prompt_artifacts_messages_xor_error', sql`(${t.messages} IS NULL) <> (${t.error} IS NULL)`),
  ],
);

/** LLMCallArtifact: the provider request, response, usage and latency of one attempt. */
export const llmCallArtifacts = pgTable(
  'llm_call_artifacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    stepRunId: uuid('step_run_id')
      .notNull()
      .references(() => dagStepRuns.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    request: jsonb('request').notNull(),
    response: jsonb('response'),
    usage: jsonb('usage'),
    latencyMs: integer('latency_ms').notNull(),
    tries: integer('tries').notNull().default(1),
    error: jsonb('error'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [unique('llm_call_artifacts_step_run_id_attempt_key').on(t.stepRunId, t.attempt)],
);

/** ParsedOutputArtifact: the value parsed from the reply, or why it could not be parsed. */
export const parsedOutputArtifacts = pgTable(
  'parsed_output_artifacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    stepRunId: uuid('step_run_id')
      .notNull()
      .references(() => dagStepRuns.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    format: text('format').notNull(),
    value: jsonb('value'),
    error: jsonb('error'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('parsed_output_artifacts_step_run_id_attempt_key').on(t.stepRunId, t.attempt),
    check('parsed_output_artifacts_format_check', sql`${t.format} IN ('text', 'json')`),
    check('parsed_output_artifacts_value_xor_error', sql`(${t.value} IS NULL) <> (${t.error} IS NULL)`),
  ],
);

/**
 * An API token (SPEC §10): who it stands for (`name`, unique so `stepgate token revoke NAME` is
 * unambiguous), its role, and only the sha256 of its secret. Never deleted: revoked.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [
    unique('api_tokens_name_key').on(t.name),
    unique('api_tokens_token_hash_key').on(t.tokenHash),
    check('api_tokens_role_check', sql`${t.role} IN ('viewer', 'operator', 'author', 'admin')`),
    check('api_tokens_token_hash_check', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

/**
 * Every state-changing request, allowed or refused (SPEC §10). Append-only: a trigger in the
 * migration refuses UPDATE, DELETE and TRUNCATE.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    at: ts('at').notNull().defaultNow(),
    /** The token's name; null when no valid token was presented (or authentication is off). */
    actor: text('actor'),
    tokenId: uuid('token_id').references(() => apiTokens.id),
    /** `METHOD /route/:pattern`, or the raw path when no route matched. */
    action: text('action').notNull(),
    /** The resource acted on: the path, or the Location of what the request created. */
    target: text('target').notNull(),
    /** The HTTP status answered. */
    outcome: integer('outcome').notNull(),
    /** The problem code of a refusal (TOKEN_REVOKED, ROLE_TOO_LOW, …), null on success. */
    code: text('code'),
    requestId: text('request_id').notNull(),
    address: text('address'),
  },
  (t) => [
    // The audit log's order (newest first: at, id), whole or for one actor (migration 0010).
    index('audit_events_at_id_idx').on(t.at, t.id),
    index('audit_events_actor_at_id_idx').on(t.actor, t.at, t.id),
    check('audit_events_outcome_check', sql`${t.outcome} BETWEEN 100 AND 599`),
  ],
);

/** One operator's attestation of one compute step run (at most one per step run). */
export const computeAttestations = pgTable(
  'compute_attestations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    stepRunId: uuid('step_run_id')
      .notNull()
      .references(() => dagStepRuns.id, { onDelete: 'cascade' }),
    attestedBy: text('attested_by').notNull(),
    attestedAt: ts('attested_at').notNull().defaultNow(),
    outcome: text('outcome').notNull(),
    notes: text('notes'),
    contractSnapshot: jsonb('contract_snapshot').notNull(),
    /** The token the attestation was made with (SPEC §10); null only with authentication off. */
    tokenId: uuid('token_id').references(() => apiTokens.id),
    /** Whether `attested_by` is the token's name (true) or a name the body gave with authentication off (false). */
    attestedByVerified: boolean('attested_by_verified').notNull().default(false),
  },
  (t) => [
    unique('compute_attestations_step_run_id_key').on(t.stepRunId),
    check('compute_attestations_outcome_check', sql`${t.outcome} IN ('SUCCESS', 'FAIL')`),
    check('compute_attestations_verified_iff_token', sql`${t.attestedByVerified} = (${t.tokenId} IS NOT NULL)`),
  ],
);

/** A file or object an attested compute step produced, pinned by digest and size. */
export const computeArtifacts = pgTable(
  'compute_artifacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    attestationId: uuid('attestation_id')
      .notNull()
      .references(() => computeAttestations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    uri: text('uri').notNull(),
    sha256: text('sha256').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    // Digest verification at attest time (SPEC §13): true only when the server hashed the file
    // itself; `verification` says why (a code of core/provenance/verification.ts).
    verified: boolean('verified').notNull().default(false),
    verification: text('verification').notNull().default('recorded_before_verification'),
  },
  (t) => [
    unique('compute_artifacts_attestation_id_name_key').on(t.attestationId, t.name),
    check('compute_artifacts_sha256_check', sql`${t.sha256} ~ '^[0-9a-f]{64}$'`),
    check('compute_artifacts_bytes_check', sql`${t.bytes} >= 0`),
    check('compute_artifacts_verified_iff_matched', sql`${t.verified} = (${t.verification} = 'digest_matched')`),
  ],
);

/**
 * The server's Ed25519 keys that sign provenance (SPEC §13). Kept in the database so every
 * process sharing it signs with the same key; at most one is active (retired_at NULL), and
 * retired keys stay so that statements they signed still verify.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    /** The DSSE keyid: sha256 (hex) of the public key's SPKI DER encoding. */
    keyid: text('keyid').primaryKey(),
    algorithm: text('algorithm').notNull(),
    /** SPKI, PEM. */
    publicKey: text('public_key').notNull(),
    /** PKCS#8, PEM. Never leaves the server. */
    privateKey: text('private_key').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    retiredAt: ts('retired_at'),
  },
  (t) => [
    check('signing_keys_algorithm_check', sql`${t.algorithm} = 'ed25519'`),
    uniqueIndex('signing_keys_one_active_idx').on(t.algorithm).where(sql`${t.retiredAt} IS NULL`),
  ],
);

/**
 * Every committed transition of a run and its step runs, one row per event (SPEC §12),
 * appended by the transition's own statement; append-only (a trigger refuses UPDATE, DELETE
 * and TRUNCATE, except the cascade of a removed run). `GET /api/events` replays from here, in
 * the order of (tx_id, id): the event's position (docs/events.md).
 */
export const runEvents = pgTable(
  'run_events',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    /**
     * The id of the transaction that appended the event (`pg_current_xact_id()`; 0 for events
     * recorded before this column existed). Readers order by (tx_id, id) and deliver an event
     * only once every transaction with a smaller id has ended: no event can then appear
     * before one already delivered.
     */
    txId: bigint('tx_id', { mode: 'bigint' })
      .notNull()
      .default(sql`(pg_current_xact_id()::text)::bigint`),
    runId: uuid('run_id')
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    stepRunId: uuid('step_run_id'),
    stepKey: text('step_key'),
    /** A map step's item (SPEC §17), from 0; NULL for an ordinary step and for run events. */
    itemIndex: integer('item_index'),
    attempt: integer('attempt'),
    /** The run's or the step run's new status. */
    status: text('status'),
    /** Why, for step_failed and run_failed: the error's message (its first 1,000 characters). */
    errorMessage: text('error_message'),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [
    // Replay of all runs, of one run, of some kinds: each in position order, from a cursor.
    index('run_events_position_idx').on(t.txId, t.id),
    index('run_events_run_position_idx').on(t.runId, t.txId, t.id),
    index('run_events_kind_position_idx').on(t.kind, t.txId, t.id),
    check(
      'run_events_kind_check',
      sql`${t.kind} IN ('run_started', 'step_started', 'step_succeeded', 'step_failed', 'step_waiting', 'step_attested', 'step_cancelled', 'run_waiting', 'run_succeeded', 'run_failed', 'run_cancelled', 'run_resumed', 'run_retried')`,
    ),
  ],
);
