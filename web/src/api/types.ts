import type { components, paths } from './openapi.js';

/**
 * The API's shapes, generated from schema/openapi.json (`npm run generate`). The optional
 * fields below are named by SPEC §9, §10 and §13 and land with their issues; the console reads
 * them when the server sends them and does without them until then.
 */
type Schemas = components['schemas'];

export type Problem = Schemas['Problem'];
export type ManifestSummary = Schemas['ManifestSummary'];
export type Manifest = Schemas['Manifest'];
export type ManifestStep = Schemas['ManifestStep'];
export type PendingAttestation = Schemas['PendingAttestation'] & Partial<{ due_at: string | null; overdue: boolean }>;
export type ComputeArtifact = Schemas['ComputeArtifact'] & Partial<{ verified: boolean; verification: unknown }>;
export type Attestation = Omit<Schemas['Attestation'], 'artifacts'> & { artifacts: ComputeArtifact[] };
export type StepRun = Omit<Schemas['StepRun'], 'status' | 'attestation'> & {
  status: Schemas['StepRun']['status'] | (string & {});
  attestation: Attestation | null;
} & Partial<{ due_at: string | null; overdue: boolean }>;
export type RunStatus = Schemas['Run']['status'] | 'cancelled';
export type Run = Omit<Schemas['Run'], 'status' | 'step_runs'> & {
  status: RunStatus;
  step_runs: StepRun[];
} & Partial<{ ready_to_resume: boolean; stalled: boolean }>;
export type RunSummary = Omit<Schemas['RunSummary'], 'status'> & { status: RunStatus } & Partial<{ ready_to_resume: boolean; stalled: boolean }>;
export type StepRunDetail = Omit<Schemas['StepRunDetail'], 'status' | 'attestation'> & {
  status: StepRun['status'];
  attestation: Attestation | null;
} & Partial<{ due_at: string | null; overdue: boolean }>;
export type TaskEvidence = NonNullable<Schemas['StepRunDetail']['artifacts']>;

/** The body of POST /api/runs/{run_id}/steps/{step_run_id}/attest. */
type AttestRequest = paths['/api/runs/{run_id}/steps/{step_run_id}/attest']['post']['requestBody']['content']['application/json'];
/** `attested_by` comes from the token once tokens exist (§10); with authentication off it is required. */
export type AttestBody = Omit<AttestRequest, 'attested_by' | 'artifacts'> & {
  attested_by?: string;
  artifacts: NonNullable<AttestRequest['artifacts']>;
};

/** A page of a list; runs, manifests and the audit log page by `next_cursor` (null on the last page). */
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
  /** Only when asked for (count=true); the inbox always has it. */
  total?: number;
  limit: number;
  offset: number;
}

/** GET /api/attestations/pending: the waits, and the runs whose waits are all attested. */
export type Inbox = Page<PendingAttestation> & { total: number; ready_to_resume: Array<Schemas['ReadyToResume']> };

/** Run statuses the runs list filters on; `stalled` is a filter, not a stored status (§9). */
export const RUN_FILTERS = ['waiting', 'running', 'stalled', 'pending', 'success', 'error', 'cancelled'] as const;
export type RunFilter = (typeof RUN_FILTERS)[number];
