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
