import { resolveContractInputs } from '../core/contract-inputs.js';
import type { ComputeContract } from '../core/manifest/schema.js';
import { pendingAttestations, readyToResume, successfulOutputs } from '../storage/attestations.js';
import type { EngineDeps } from './deps.js';

/**
 * The operator's inbox: every step run waiting for attestation across runs, oldest first,
 * with what the operator needs to do the work: the contract, the values of its declared
 * inputs, and the canonical outputs of the steps it depends on.
 *
 * A declared input's value is found as core/contract-inputs.ts says; one that is not found
 * is null (the `upstream` outputs are there in full).
 */
export async function listPending(deps: EngineDeps, page: { limit: number; offset: number }) {
  const { items, total } = await pendingAttestations(deps.db, page);
  const outputs = await successfulOutputs(deps.db, [...new Set(items.map((item) => item.run_id))]);
  const entries = items.map((item) => {
    const contract = item.compute_contract as ComputeContract;
    const steps: Record<string, unknown> = {};
    for (const row of outputs) {
      if (row.run_id !== item.run_id) continue;
      steps[row.step_key] = row.step_type === 'compute' ? row.output : { output: row.output };
    }
    const context = { inputs: item.run_inputs, steps };
    const upstream = Object.fromEntries(item.depends_on.map((key) => [key, steps[key] ?? null]));
    const inputs = resolveContractInputs(contract, context).map((input) => ({ ...input, value: input.value ?? null }));
    return { ...item, contract, inputs, upstream };
  });
  return { items: entries, total };
}

/** Waiting runs whose every wait is attested: the operator's next move is a resume. */
export function listReadyToResume(deps: EngineDeps) {
  return readyToResume(deps.db, 50);
}
