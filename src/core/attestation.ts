import type { Issue } from './errors.js';
import { ioNames, type ComputeContract } from './manifest/schema.js';

/** Attestation rules (SPEC §4) that need the step's contract, beyond the body's shape. */

export interface AttestedArtifact {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** On SUCCESS, every output the contract declares needs an artifact of that name. */
export function missingOutputs(contract: ComputeContract, outcome: 'SUCCESS' | 'FAIL', artifacts: readonly AttestedArtifact[]): Issue[] {
  if (outcome !== 'SUCCESS') return [];
  const given = new Set(artifacts.map((a) => a.name));
  return ioNames(contract.outputs)
    .filter((name) => !given.has(name))
    .map((name) => ({
      path: 'artifacts',
      message: `the contract declares the output "${name}": on SUCCESS it needs an artifact named "${name}" (found ${artifacts.length === 0 ? 'none' : artifacts.map((a) => `"${a.name}"`).join(', ')})`,
    }));
}

/** What downstream templates see of an attested compute step (`steps.X.outcome|notes|artifacts`). */
export function canonicalComputeOutput(outcome: 'SUCCESS' | 'FAIL', notes: string | null, artifacts: readonly AttestedArtifact[]) {
  return {
    outcome,
    notes,
    artifacts: Object.fromEntries(artifacts.map((a) => [a.name, { uri: a.uri, sha256: a.sha256, bytes: a.bytes }])),
  };
}

/** Artifact URI schemes accepted unless STEPGATE_ARTIFACT_SCHEMES says otherwise (SPEC §11). */
export const DEFAULT_ARTIFACT_SCHEMES: readonly string[] = ['s3', 'gs', 'az', 'https', 'http', 'file'];

/** Artifacts whose URI scheme is not allowed (`javascript:`, `data:`, …), one issue each. */
export function schemeIssues(artifacts: readonly AttestedArtifact[], allowed: readonly string[]): Issue[] {
  return artifacts.flatMap((artifact, i) => {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(artifact.uri)?.[1]?.toLowerCase();
    if (scheme !== undefined && allowed.includes(scheme)) return [];
    return [{ path: `artifacts[${i}].uri`, message: `the scheme "${scheme ?? ''}:" is not allowed: expected one of ${allowed.map((s) => `${s}:`).join(', ')} (STEPGATE_ARTIFACT_SCHEMES)` }];
  });
}
