import { resolveContractInputs } from '../core/contract-inputs.js';
import type { ComputeContract } from '../core/manifest/schema.js';
import { unitName } from '../core/map-items.js';
import { analyzeTemplate, compileTemplate } from '../core/template.js';
import type { EngineDeps } from './deps.js';
import { planOf } from './plan.js';
import { RunState } from './run-state.js';

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
  const states = new Map<string, RunState>();
  const stateOf = async (item: (typeof items)[number]) => {
    let state = states.get(item.runId);
    if (!state) {
      const rows = outputs.filter((row) => row.runId === item.runId);
      const plan = await planOf(deps.db, deps.plans, item.manifestId);
      const units = rows.map((row) => ({ id: row.id, stepKey: row.stepKey, itemIndex: row.itemIndex, status: 'SUCCESS' as const, attempt: row.attempt, output: row.output, error: null, dueAt: null }));
      states.set(item.runId, (state = RunState.of(plan, item.runInputs, deps.maxItems, units)));
    }
    return state;
  };
  const entries = [];
  for (const item of items) {
    const contract = item.computeContract as ComputeContract;
    const { steps } = (await stateOf(item)).context;
    const context = { inputs: item.runInputs, steps, ...(item.itemIndex === null ? {} : { item: item.item, item_index: item.itemIndex }) };
    const upstream = Object.fromEntries(item.dependsOn.map((key) => [key, steps[key] ?? null]));
    const inputs = resolveContractInputs(contract, context).map((input) => ({ ...input, value: input.value ?? null }));
    entries.push({ ...item, label: unitName(item.stepKey, item.itemIndex), contract, instructions: instructionsFor(contract, context), inputs, upstream });
  }
  return { items: entries, total };
}

/** A contract's instructions as the operator reads them: the template rendered (a map step's item in it), else as written. */
function instructionsFor(contract: ComputeContract, context: Record<string, unknown>): string | null {
  const source = contract.instructions;
  if (source === undefined) return null;
  const analysis = analyzeTemplate(source);
  if (!analysis.ok) return source;
  try {
    return compileTemplate(source, analysis.references).render(context);
  } catch {
    return source; // a value it names is missing: the words as written still help
  }
}

/** Waiting runs whose every wait is attested: the operator's next move is a resume. */
export function listReadyToResume(deps: EngineDeps) {
  return deps.reads.readyToResume(50);
}
