import type { ManifestRow, StoredManifest } from '../storage/manifests.js';

/** Rows → the snake_case JSON of SPEC §7. Timestamps as ISO 8601. */

export function iso(value: Date): string;
export function iso(value: Date | null): string | null;
export function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

export function manifestSummaryJson(row: ManifestRow) {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    description: row.description,
    content_hash: row.contentHash,
    created_at: iso(row.createdAt),
  };
}

export function manifestJson(manifest: StoredManifest) {
  return {
    ...manifestSummaryJson(manifest),
    document: manifest.document,
    steps: manifest.steps.map((step) => ({
      id: step.id,
      key: step.key,
      position: step.position,
      step_type: step.stepType as 'task' | 'compute' | null,
      depends_on: step.dependsOn,
      prompt: step.prompt,
      model: step.model,
      params: step.params,
      output: step.output,
      compute_contract: step.computeContract,
    })),
  };
}
