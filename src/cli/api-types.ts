/** The JSON the HTTP API answers, as far as the CLI reads it (see schema/openapi.json). */

/** An artifact as attested (the request body's shape). */
export interface ArtifactJson {
  name: string;
  uri: string;
  sha256: string;
  bytes: number;
}

/** An artifact as stored: with the result of digest verification at attest time. */
export interface StoredArtifactJson extends ArtifactJson {
  verified: boolean;
  verification: string;
}

export interface StepRunJson {
  id: string;
  step_key: string;
  step_type: 'task' | 'compute';
  /** A map step's item, from 0; null for an ordinary step. */
  item_index: number | null;
  item: unknown;
  status: string;
  attempt: number;
  started_at: string;
  ended_at: string | null;
  due_at: string | null;
  overdue: boolean;
  output: unknown;
  error: { message?: string } | null;
  attestation: { outcome: string; attested_by: string; attested_by_verified: boolean; token_id: string | null; notes: string | null; artifacts: StoredArtifactJson[] } | null;
}

export interface RunJson {
  id: string;
  manifest_id: string;
  status: string;
  inputs: Record<string, unknown>;
  error: { message?: string } | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  stalled: boolean;
  ready_to_resume: boolean;
  cancel_reason: string | null;
  waiting_on: Array<{ step_run_id: string; step_key: string; item_index?: number }>;
  map_steps: Array<{ step_key: string; total: number | null; done: number; failed: number; waiting: number; running: number; cancelled: number }>;
  /** Tokens the run's LLM calls used (absent from servers before SPEC §16). */
  usage?: RunUsageJson;
  step_runs: StepRunJson[];
}

export interface TokenCountsJson {
  calls: number;
  tries: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  calls_without_usage: number;
}

export interface RunUsageJson extends TokenCountsJson {
  by_model: Array<TokenCountsJson & { provider: string; model: string }>;
}

export interface ManifestStepJson {
  key: string;
  for_each?: string | null;
  /** null means task */
  step_type: 'task' | 'compute' | null;
}

export interface ManifestJson {
  id: string;
  name: string;
  version: number;
  steps: ManifestStepJson[];
}

export interface PendingJson {
  step_run_id: string;
  run_id: string;
  step_key: string;
  item_index: number | null;
  item: unknown;
  /** `B`, or `B[3]` for item 3 of map step B. */
  label: string;
  waiting_since: string;
  due_at: string | null;
  overdue: boolean;
  manifest: { id: string; name: string; version: number };
  contract: { executor: unknown; inputs: unknown[]; outputs: Array<string | { name: string }>; instructions?: string };
  /** The instructions rendered (a map step's item in them). */
  instructions: string | null;
  inputs: Array<{ name: string; from: string | null; value: unknown }>;
  upstream: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  /** The next page's cursor (runs, manifests, the audit log); null on the last page. */
  next_cursor?: string | null;
  /** Only when asked for (count=true), and always in the inbox. */
  total?: number;
}

export interface InboxJson extends Page<PendingJson> {
  total: number;
  ready_to_resume: Array<{ run_id: string; manifest: { id: string; name: string; version: number }; waiting_since: string }>;
}

export interface RunPlanJson {
  run_id: string;
  status: string;
  stalled: boolean;
  action: 'resume' | 'retry' | null;
  steps: Array<{ step_key: string; step_type: string; plan: string; step_run_id: string | null; attempt: number | null; reason: string }>;
}
