import { resolveContractInputs } from '../core/contract-inputs.js';
import type { ComputeContract } from '../core/manifest/schema.js';
import type { EngineDeps } from './deps.js';

/**
 * The operator's inbox: every step run waiting for attestation across runs, overdue first,
 * then oldest first, with what the operator needs to do the work: the contract, the values of
 * its declared inputs, and the canonical outputs of the steps it depends on.
 *
 * A declared input's value is found as core/contract-inputs.ts says; one that is not found
 * is null (the `upstream` outputs are there in full).
 */
export async function listPending(deps: EngineDeps, page: { limit: number; offset: number }) {
  const { items, total } = await deps.reads.pending(page);
  const outputs = await deps.reads.successfulOutputs([...new Set(items.map((item) => item.runId))]);
  const entries = items.map((item) => {
    const contract = item.computeContract as ComputeContract;
    const steps: Record<string, unknown> = {};
    for (const row of outputs) {
      if (row.runId !== item.runId) continue;
      steps[row.stepKey] = row.stepType === 'compute' ? row.output : { output: row.output };
    }
    const context = { inputs: item.runInputs, steps };
    const upstream = Object.fromEntries(item.dependsOn.map((key) => [key, steps[key] ?? null]));
    const inputs = resolveContractInputs(contract, context).map((input) => ({ ...input, value: input.value ?? null }));
    return { ...item, contract, inputs, upstream };
  });
  return { items: entries, total };
}

/** Waiting runs whose every wait is attested: the operator's next move is a resume. */
export function listReadyToResume(deps: EngineDeps) {
  return deps.reads.readyToResume(50);
}
